"""The top bar fits the user: who is signed in, a sign-out, and only the links they can use.

`init_app` adds `nav` to every template (base.html draws it). `gate(page)` is how a signed-in
page refuses: the public is sent to sign in (they may have an account), a signed-in user whose
role may not open the page is told so on a 403 page ("需要规划员权限") with who they are signed
in as, instead of being bounced to the login form they have already passed. The roles of each
page are in incidents/actors.py (PAGE_ROLES), with the other role rules.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, render_template, request, url_for

from ..errors import GridmapError
from ..i18n import current_locale, label
from ..incidents.actors import PAGE_ROLES, RIGHT_NAMES, ROLE_LABELS, Actor

# (endpoint, 中文, English, page key in PAGE_ROLES or None for everyone)
LINKS = (("maps.overview", "地图", "Map", None), ("report.report_page", "我要报事", "Report", None),
         ("resident.my_reports", "我的报事", "My reports", None), ("board.board", "调度台", "Board", "board"),
         ("dashboard.page", "驾驶舱", "Dashboard", "dashboard"), ("planner.page", "规划", "Planner", "planner"))


def may_open(actor: Actor, page: str | None) -> bool:
    """Whether `actor` may open signed-in page `page` (None: a public page)."""
    if page is None:
        return True
    return not actor.is_public and actor.role in PAGE_ROLES[page]


def nav_for(actor: Actor) -> dict[str, Any]:
    """The top bar's links and user for `actor` (links they cannot use are left out)."""
    links = []
    for endpoint, zh, en, page in LINKS:
        if may_open(actor, page):
            try:
                href = url_for(endpoint)
            except Exception:  # noqa: BLE001 - a blueprint the app does not register (a slim test app)
                continue
            links.append({"href": href, "zh": zh, "en": en, "current": request.path == href})
    user = None if actor.is_public else {"name": actor.name, "role": actor.role,
                                         "role_label": label(ROLE_LABELS.get(actor.role, actor.role))}
    return {"links": links, "user": user, "login": url_for("pages.login", next=_here())}


def _here() -> str:
    qs = request.query_string.decode("latin-1")
    return request.path + ("?" + qs if qs else "")


def init_app(app: Flask) -> None:
    """Give every template `nav` (the signed-in state is read once per request, cached on flask.g)."""
    from .auth import current_actor

    @app.context_processor
    def _nav() -> dict[str, Any]:
        try:
            actor = current_actor()
        except GridmapError:  # a bad API token on a page: draw the bar as for the public
            from ..incidents.actors import PUBLIC

            actor = PUBLIC
        return {"nav": nav_for(actor)}


def needs_role(page: str) -> str:
    """The right a page needs, as its refusal names it: "规划员 planner"."""
    roles = [r for r in PAGE_ROLES[page] if r != "admin"] or ["admin"]
    return " / ".join(RIGHT_NAMES.get(r, r) for r in roles)


def gate(page: str):
    """None if the current user may open `page`; else the answer to give: sign in, or a 403 page."""
    from .auth import current_actor

    actor = current_actor()
    if may_open(actor, page):
        return None
    if actor.is_public:
        return redirect(url_for("pages.login", next=_here().rstrip("?")))
    return refusal(actor, needs_role(page), 403)


def refusal(actor: Actor, right: str, status: int):
    """A friendly page: what is needed, who is signed in, and where to go instead."""
    zh, _, en = right.partition(" ")
    return render_template("forbidden.html", right=en if current_locale() == "en" else zh, right_en=en or zh,
                           actor=actor, role_label=label(ROLE_LABELS.get(actor.role, actor.role)),
                           login=url_for("pages.login", next=_here())), status
