"""Blueprint "pages": HTML views over the same services as the API."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..registry.model import Level
from . import services

bp = Blueprint("pages", __name__)


@bp.get("/")
def home():
    s = services()
    info = s.store.info()
    units = s.units()
    return render_template("home.html", info=info, units=units, levels=list(Level),
                           problems={p.code: p for p in s.team_problems()})


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with user name and password (the form carries a CSRF token)."""
    from ..errors import Throttled, Unauthorized
    from .auth import begin_second_step, check_login, start_session
    from .twofactor import is_required

    error, status = None, 200
    if request.method == "POST":
        try:
            user = check_login(services().store, request.form.get("username", ""), request.form.get("password", ""),
                               address=request.remote_addr, settings=services().settings)
        except (Unauthorized, Throttled) as exc:
            error, status = str(exc), exc.http_status
        else:
            nxt = local_target(request.args.get("next"))
            if user.get("totp_secret"):  # the second step: the 6-digit code
                begin_second_step(user, "code")
                return redirect(url_for("twofactor.code", next=nxt))
            if is_required(services().settings, user["role"]):  # must enrol before signing in
                begin_second_step(user, "enrol")
                return redirect(url_for("twofactor.enrol", next=nxt))
            start_session(user)
            return redirect(nxt or url_for("pages.home"))
    return render_template("login.html", error=error), status


@bp.post("/logout")
def logout():
    """Sign out: the session ends on the server too (a saved cookie no longer works)."""
    from .auth import end_session

    end_session()
    return redirect(url_for("pages.home"))


def local_target(target: str | None) -> str | None:
    """Only a path on this site may follow a login (no open redirect to another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target
