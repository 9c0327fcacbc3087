"""Blueprint "twofactor": the login's second step (/login/totp) and enrolment (/account/totp).

Thin views over web/twofactor.py. Both forms carry the CSRF token (Flask-WTF's CSRFProtect
covers this blueprint).
"""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from ..errors import InputError, Throttled, Unauthorized
from . import services
from .auth import current_actor, pending_user, start_session
from .qrsvg import qr_svg
from .twofactor import check_code, confirm, is_required, otpauth_uri, pending_secret

bp = Blueprint("twofactor", __name__)


def _next() -> str | None:
    from .pages import local_target

    return local_target(request.args.get("next"))


@bp.route("/login/totp", methods=["GET", "POST"])
def code():
    """Second step of a login: the 6-digit code of the user's authenticator app (or a recovery code)."""
    user = pending_user("code")
    if user is None:  # no password step on this browser, or it is older than five minutes
        return redirect(url_for("pages.login", next=_next()))
    error, status = None, 200
    if request.method == "POST":
        s = services()
        try:
            check_code(s.store, user, request.form.get("code", ""), address=request.remote_addr, settings=s.settings)
        except (Unauthorized, Throttled) as exc:
            error, status = str(exc), exc.http_status
        else:
            start_session(s.store.users.user(user["username"]), second_factor=True)
            return redirect(_next() or url_for("pages.home"))
    return render_template("login_totp.html", error=error, username=user["username"]), status


@bp.route("/account/totp", methods=["GET", "POST"])
def enrol():
    """Turn on two-factor login: scan the QR code, type the first code; recovery codes are shown once."""
    s = services()
    actor = current_actor()
    user = pending_user("enrol")
    if user is None and not actor.is_public:
        user = s.store.users.user(actor.name)
    if user is None:
        return redirect(url_for("pages.login", next=url_for("twofactor.enrol")))
    if user.get("totp_secret"):  # enrolled: the secret is never shown again
        return render_template("account_totp.html", enrolled=True, username=user["username"],
                               left=s.store.totp.recovery_left(user["username"]),
                               required=is_required(s.settings, user["role"]))
    error, status = None, 200
    if request.method == "POST":
        try:
            codes = confirm(s.store, user["username"], request.form.get("code", ""))
        except InputError as exc:
            error, status = str(exc), exc.http_status
        else:
            start_session(s.store.users.user(user["username"]), second_factor=True)
            return render_template("account_totp.html", enrolled=True, codes=codes, username=user["username"],
                                   next=_next() or url_for("pages.home"))
    secret = pending_secret(s.store, user)
    uri = otpauth_uri(secret, user["username"])
    return render_template("account_totp.html", enrolled=False, username=user["username"], secret=secret,
                           qr=qr_svg(uri, label="两步验证二维码 / two-factor QR code"), uri=uri, error=error,
                           required=is_required(s.settings, user["role"])), status
