"""The title and explanation of each HTTP error page and JSON error, through the catalogs."""

from __future__ import annotations

from ..i18n import N_, tr

# status -> (title, what it means to the reader); Werkzeug's own texts are English only.
HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    400: (N_("Bad Request"), N_("The request could not be understood: check its parameters.")),
    401: (N_("Unauthorized"), N_("Log in, or send an API token (Authorization: Bearer ...).")),
    403: (N_("Forbidden"), N_("Your account may not open this page or do this.")),
    404: (N_("Not Found"), N_("There is no such page or record: check the address.")),
    405: (N_("Method Not Allowed"), N_("This address does not accept that method.")),
    409: (N_("Conflict"), N_("The request contradicts what the store holds.")),
    413: (N_("Request Entity Too Large"), N_("The request is too large.")),
    422: (N_("Unprocessable Entity"), N_("The input has problems: see the details.")),
    429: (N_("Too Many Requests"), N_("Too many requests: wait a while and try again.")),
    500: (N_("Internal Server Error"), N_("Something went wrong on the server.")),
    501: (N_("Not Implemented"), N_("This feature is not installed on this server.")),
    503: (N_("Service Unavailable"), N_("The service is temporarily unavailable: try again shortly.")),
}


def http_title(status: int, fallback: str) -> str:
    """The translated title of `status` (e.g. 404: 未找到 / Not Found)."""
    known = HTTP_MESSAGES.get(status)
    return tr(known[0]) if known else fallback


def http_explanation(status: int, description: str | None, default_description: str | None) -> str:
    """What the page says: our own description (a msgid) translated, or the status's explanation
    in place of Werkzeug's English default."""
    if description and description != default_description:
        return tr(description)
    known = HTTP_MESSAGES.get(status)
    return tr(known[1]) if known else (description or "")
