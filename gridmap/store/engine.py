"""Connections to either backend: URLs, SQLite's pragmas, and the guard that turns a lost database into a 503."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from ..errors import InputError, StoreUnavailable
from ..i18n import tr

DEFAULT_DB = "gridmap.db"


def normalise_url(db: str | os.PathLike | None) -> str:
    """Turn a path or URL into an SQLAlchemy URL (SQLite for paths, psycopg 3 for postgresql)."""
    text = str(db) if db is not None else DEFAULT_DB
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith(("postgresql+", "sqlite:")):
        return text
    if "://" in text:
        raise ValueError(f"unsupported database URL {text!r}: use a file path, sqlite:///PATH or postgresql://...")
    return "sqlite:///" + str(Path(text).expanduser().resolve())


def sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


class Guard:
    """Context manager turning a lost database into StoreUnavailable (HTTP 503); holds `lock` if given."""

    def __init__(self, store, opener, lock=None):
        self.store, self.opener, self.cm, self.lock = store, opener, None, lock

    def __enter__(self) -> Connection:
        if self.lock is not None:
            self.lock.acquire()
        try:
            self.cm = self.opener()
            return self.cm.__enter__()
        except OperationalError as exc:
            self._release()
            raise StoreUnavailable(tr("cannot reach the database %(display_url)s: %(orig)s", display_url=self.store.display_url, orig=exc.orig)) from None
        except BaseException:
            self._release()
            raise

    def __exit__(self, *exc_info):
        try:
            handled = self.cm.__exit__(*exc_info)
        except OperationalError as exc:
            raise StoreUnavailable(tr("the database %(display_url)s failed: %(orig)s", display_url=self.store.display_url, orig=exc.orig)) from None
        finally:
            self._release()
        err = exc_info[1]
        if isinstance(err, OperationalError) and "readonly" in str(err.orig):
            # a read-only database file (permissions, a full or read-only disk): an outage like any other
            raise StoreUnavailable(tr("the database %(display_url)s is read-only: %(orig)s", display_url=self.store.display_url, orig=err.orig)) from None
        if "NUL (0x00)" in str(getattr(err, "orig", err) or ""):  # PostgreSQL text cannot hold NUL
            raise InputError(tr("text in the request contains a NUL character (%00)")) from None
        if isinstance(err, OperationalError) and err.connection_invalidated:
            # The server dropped the connection mid-request (restart, failover): 503, like one that
            # cannot connect; the pool has discarded it, so the next request gets a fresh one.
            raise StoreUnavailable(tr("the database %(display_url)s dropped the connection: %(orig)s", display_url=self.store.display_url, orig=err.orig)) from None
        if isinstance(err, OverflowError) or getattr(getattr(err, "orig", None), "sqlstate", None) == "22003":
            # A number past the column's integer type (SQLite: 64-bit; PostgreSQL 22003 numeric_value_out_of_range)
            # from a request (an id, an offset) is bad input, not a 500.
            raise InputError(tr("a number in the request is too large for the database")) from None
        return handled

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: commits stay atomic and durable across a crash of the process; only a
    # power cut can lose the last commits (FULL fsyncs every commit: 5% of a report's cost).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()
