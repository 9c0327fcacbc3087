"""What every `gridmap` command shares: the context (store and settings), clean failures, progress bars."""

from __future__ import annotations

import sys
from functools import wraps

import click

from ..errors import GridmapError
from ..i18n import tr

LEVELS = ["county", "town", "zone", "grid", "micro"]


def fail_cleanly(fn):
    """Print a GridmapError as a one-paragraph message (no traceback) and exit with its code."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except GridmapError as exc:
            click.echo(tr("error: %(message)s", message=exc), err=True)
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


def choose_locale(config: str | None) -> None:
    """Messages in the language of LC_ALL / LC_MESSAGES / LANG when they name zh or en, else the `locale` setting."""
    import os

    from ..i18n import environ_locale, set_process_locale

    chosen = environ_locale(os.environ)
    if chosen is None:
        from ..settings import Settings

        try:
            chosen = Settings.load(config=config).locale
        except GridmapError:
            chosen = None  # the command itself reports a broken settings file, in the default language
    set_process_locale(chosen or "zh_CN")
