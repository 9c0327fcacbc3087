"""What every `gridmap` command shares: the context (store and settings), clean failures, progress bars."""

from __future__ import annotations

import sys
from functools import wraps

import click

from ..errors import GridmapError

LEVELS = ["county", "town", "zone", "grid", "micro"]


def fail_cleanly(fn):
    """Print a GridmapError as a one-paragraph message (no traceback) and exit with its code."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GridmapError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)

    return wrapper


class Context:
    """The options of the `gridmap` group (--db, --config), and the settings and services they open."""

    def __init__(self, db: str | None, config: str | None):
        self.db, self.config = db, config

    def settings(self, **overrides):
        from ..settings import Settings

        return Settings.load({"db": self.db, **overrides}, config=self.config)

    def services(self, create: bool = False):
        from ..services import Services

        return Services.open(self.settings(), create=create)


pass_ctx = click.make_pass_decorator(Context)


def progress(label: str, unit: str = "pt"):
    """A tqdm bar on a terminal (nothing when output is piped), as a (done, total) callback."""
    from tqdm import tqdm

    bar = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=label, unit=unit, unit_scale=True, disable=None, leave=False)
        bar["bar"].update(done - bar["bar"].n)
        if done >= total:
            bar["bar"].close()

    return update
