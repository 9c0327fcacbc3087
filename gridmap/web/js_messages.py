"""The words our scripts show (web/static/js: report.js, board.js), as message ids.

The CSP runs no inline script, so the scripts cannot be templated: base.html puts this table,
translated for the request, in a ``<script type="application/json" id="i18n">`` data block (data,
never run), and each script looks its words up there with its ``T("English", {name: value})``
helper, filling the ``%(name)s`` placeholders. A script's word missing here shows as its English id.
"""

from __future__ import annotations

from ..i18n import N_, tr

MESSAGES = (
    N_("Could not load the grids; you can still tap the map."),
    N_("Location of the report"),
    N_("Location: %(lat)s, %(lon)s"),
    N_("Outside the jurisdiction: reports from here cannot be taken."),
    N_("This place is outside the jurisdiction: tap inside the grids."),
    N_("Grid %(grid)s"),
    N_("outside every grid; nearest %(grid)s (%(m)s m)"),
    N_("outside every grid (goes to the town's queue)"),
    N_("This browser cannot give your location: tap the map."),
    N_("Your browser gives its location only over HTTPS: tap the map instead."),
    N_("Finding your location…"),
    N_("No location yet."),
    N_("Location permission was denied."),
    N_("Your position is unavailable right now."),
    N_("Finding your location took too long."),
    N_("Could not get your location."),
    N_("Tap the map where the problem is instead."),
    N_("Not sent: %(problems)s"),
    N_("Tap the map (or use your location) first."),
    N_("Sending…"),
    N_("Sending the photo…"),
    N_("The photo is too large (%(size)s MB, the limit is %(max)s MB): choose another or remove it."),
    N_("The photo is over the limit of %(max)s MB."),
    N_("Too many reports from here: try again in a minute."),
    N_("Not sent (%(status)s): %(detail)s"),
    N_("Network error: nothing was sent, please try again."),
    N_("Submit"),
    N_("none (the town %(town)s will handle it)"),
    N_("Similar nearby reports: #%(ids)s"),
    N_("name or code"),
    N_("Confirm: %(action)s"),
    N_("Go: %(action)s"),
    N_("Cancel"),
    N_("on duty"),
    N_("%(n)s open"),
    N_("router's pick"),
    N_("by the routing rule (nobody listed)"),
    N_("not a grid of the plan in force: %(code)s"),
    N_("goes to %(name)s"),
    N_("sign in again"),
    N_("Network error: nothing changed."),
    N_("✓ %(action)s: %(status)s (%(code)s → %(new)s)"),
    N_("assigned to %(name)s"),
    N_("sent to the department %(department)s"),
    N_("grid %(code)s %(name)s"),
    N_("moved to"),
    N_("due %(when)s"),
    N_("Assignee"),
    N_("Department"),
)


def dictionary() -> dict[str, str]:
    """Every script message in the current language, keyed by its English id."""
    return {m: tr(m) for m in MESSAGES}
