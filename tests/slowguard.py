"""Keep the inner loop fast: a test that starts a browser, a live server or a CLI subprocess must be
marked `slow`, so `python -m pytest -m "not slow"` leaves it out. The helpers that start them call
`assert_slow`, which fails an unmarked test with the fix in the message."""

from __future__ import annotations

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
