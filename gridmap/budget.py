"""Run heavy geometry in a child process with a time and memory budget.

A request handler busy in GEOS or spopt cannot be interrupted from Python (gunicorn's
`timeout` only kills the whole worker, dropping every request it holds). So the work runs in
a forked child: the parent waits at most `timeout_s` seconds, then kills it and raises
TooSlow (503); the child may map at most `memory_mb` MB more than it inherited (RLIMIT_AS),
so a runaway overlay answers 503 too instead of pushing the server into swap. A GridmapError raised in the child
(bad input) comes back as itself.

Fork, not spawn: the child inherits the imported modules and the already-read input, so a
small job starts in milliseconds. The child touches no database or socket of the parent.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import resource
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from .errors import GridmapError, TooLarge, TooSlow
from .i18n import tr


@dataclass(frozen=True)
class ComputeLimits:
    """The web app's bounds on heavy planner requests (see the settings of the same names)."""

    network_max_features: int = 20000
    network_max_vertices: int = 500000
    propose_max_points: str = "bisect=200000,skater=500,maxp=300"
    compute_timeout_s: float = 60.0
    compute_memory_mb: int = 2048

    @classmethod
    def from_settings(cls, settings) -> "ComputeLimits":
        """The limits the settings declare."""
        return cls(settings.network_max_features, settings.network_max_vertices, settings.propose_max_points,
                   settings.compute_timeout_s, settings.compute_memory_mb)

    def check_points(self, method: str, n: int) -> None:
        """TooLarge when `n` household points exceed the limit for `method`."""
        limits = {}
        for part in self.propose_max_points.split(","):
            if "=" in part:
                name, _, value = part.partition("=")
                limits[name.strip()] = int(value)
        limit = limits.get(method)
        if limit is not None and n > limit:
            raise TooLarge(tr("method %(method)s: %(n)s household points, more than the limit of %(limit)s (setting "
                              "propose_max_points)", method=method, n=n, limit=limit))


def run_bounded(fn: Callable[..., Any], *args: Any, timeout_s: float, memory_mb: int = 0, what: str = "the job",
                **kwargs: Any) -> Any:
    """fn(*args, **kwargs) in a child process; TooSlow after `timeout_s` s or past `memory_mb` MB."""
    if timeout_s <= 0:  # budget switched off: run here
        return fn(*args, **kwargs)
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_child, args=(send, fn, args, kwargs, memory_mb), daemon=True)
    child.start()
    send.close()
    try:
        if not recv.poll(timeout_s):
            raise TooSlow(tr("%(what)s took longer than %(seconds)s s (setting compute_timeout_s) and was stopped; give "
                             "less input", what=what, seconds=format(timeout_s, "g")))
        try:
            kind, value = pickle.loads(recv.recv_bytes())
        except EOFError:  # the child died without answering: killed by the memory limit or a signal
            raise TooSlow(tr("%(what)s ran out of memory (setting compute_memory_mb = %(mb)s) and was stopped",
                             what=what, mb=memory_mb)) from None
    finally:
        if child.is_alive():
            child.kill()
        child.join(5)
        recv.close()
    if kind == "ok":
        return value
    if kind == "error":
        raise value
    if kind == "memory":
        raise TooSlow(tr("%(what)s ran out of memory (setting compute_memory_mb = %(mb)s) and was stopped",
                         what=what, mb=memory_mb))
    raise RuntimeError(f"{what} failed in its worker process:\n{value}")


def _address_space() -> int:
    """This process's virtual size in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _child(send, fn, args, kwargs, memory_mb: int) -> None:
    try:
        if memory_mb > 0:
            # on top of what the fork already maps (a threaded worker's virtual size can be large)
            limit = _address_space() + memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        try:
            out = ("ok", fn(*args, **kwargs))
        except GridmapError as exc:
            out = ("error", exc)
        except MemoryError:
            out = ("memory", None)
        except Exception:
            out = ("crash", traceback.format_exc())
        try:
            data = pickle.dumps(out)
        except Exception:
            data = pickle.dumps(("crash", traceback.format_exc()))
        send.send_bytes(data)
    finally:
        send.close()
        os._exit(0)  # skip the parent's atexit handlers and buffered files
