"""Keep the inner loop fast: a test that starts a browser, a live server or a CLI subprocess must be
marked `slow`, so `python -m pytest -m "not slow"` leaves it out. The helpers that start them call
`assert_slow`, which fails an unmarked test with the fix in the message; `guard_subprocesses` does the
same for any Python, gridmap or Chromium process a test starts through `subprocess` by itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_current: pytest.Item | None = None


def set_current(item: pytest.Item | None) -> None:
    global _current
    _current = item


def assert_slow(what: str) -> None:
    """Fail the running test if it starts `what` without the `slow` marker."""
    if _current is not None and _current.get_closest_marker("slow") is None:
        pytest.fail(f"{_current.nodeid} starts {what}: mark it @pytest.mark.slow "
                    "(the inner loop, `python -m pytest -m \"not slow\"`, leaves such tests out)", pytrace=False)


_GUARDED = ("python", "gridmap", "chromium")


def guard_subprocesses() -> None:
    """Make subprocess.Popen (under run, check_output, ...) call assert_slow for Python (a second
    interpreter: ~1-2 s of imports), gridmap and Chromium processes."""
    real_init = subprocess.Popen.__init__
    if getattr(real_init, "_slowguard", False):
        return

    def __init__(self, args, *a, **kw):
        first = args if isinstance(args, (str, bytes, os.PathLike)) else (args[0] if args else "")
        first = os.fsdecode(first)
        if kw.get("shell") and isinstance(args, (str, bytes)):
            first = first.split()[0] if first.split() else ""
        name = os.path.basename(first)
        if first == sys.executable or name.startswith(_GUARDED):
            assert_slow(f"a subprocess ({name})")
        real_init(self, args, *a, **kw)

    __init__._slowguard = True
    subprocess.Popen.__init__ = __init__
