"""Errors that know their HTTP status and CLI exit code."""

from __future__ import annotations

from .i18n import tr


class GridmapError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    http_status = 400
    exit_code = 1


class InputError(GridmapError):
    """Bad input: a file, a field, a coordinate. `problems` lists every issue found."""

    http_status = 422

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        full = message
        if self.problems:
            shown = self.problems[:50]
            full += "\n" + "\n".join(f"  - {p}" for p in shown)
            if len(self.problems) > len(shown):
                full += "\n  " + tr("... and %(n)s more", n=len(self.problems) - len(shown))
        super().__init__(full)


class NotFound(GridmapError):
    """A unit, person or plan that does not exist."""

    http_status = 404


class Conflict(GridmapError):
    """The request contradicts what the store holds (duplicate code, wrong state)."""

    http_status = 409


class StoreUnavailable(GridmapError):
    """The database cannot be reached."""

    http_status = 503
    exit_code = 3


class Unauthorized(GridmapError):
    """No valid login or token where one is needed."""

    http_status = 401


class Forbidden(GridmapError):
    """Logged in, but this role or person may not do this."""

    http_status = 403


class MissingExtra(GridmapError):
    """A feature of an optional extra (gridmap[dask], gridmap[spopt]) was called without it installed."""

    http_status = 501
    exit_code = 2


class TooLarge(GridmapError):
    """The input is bigger than a configured limit (features, vertices, points): the message names it."""

    http_status = 413


class TooSlow(GridmapError):
    """A computation ran past its time or memory budget and was stopped."""

    http_status = 503
    exit_code = 3


class Throttled(GridmapError):
    """Too many attempts (failed logins): wait and try again."""

    http_status = 429
