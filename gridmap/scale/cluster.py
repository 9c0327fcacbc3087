"""Which Dask cluster a bulk job runs on: a scheduler address in production, a LocalCluster otherwise."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

from ..errors import StoreUnavailable
from ..i18n import tr

if TYPE_CHECKING:
    import distributed


def scheduler_address(option: str | None = None) -> str | None:
    """The scheduler to use: the option, else Dask's own `scheduler-address` config
    (environment DASK_SCHEDULER_ADDRESS, or ~/.config/dask/*.yaml), else None (start a LocalCluster)."""
    if option:
        return option
    from ..extras import require

    require("dask", "Dask")
    import dask

    return dask.config.get("scheduler-address", None) or None


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                processes: bool = True) -> Iterator["distributed.Client"]:
    """A distributed Client: connected to `scheduler`, or to a LocalCluster of `workers`
    single-threaded workers (default: one per core) closed again on exit.

    One thread per worker because each task already runs vectorised GEOS code; more workers,
    not more threads, is how the job scales (and on a real cluster, more machines).
    """
    from ..extras import require

    require("dask", "Dask")
    from distributed import Client, LocalCluster

    address = scheduler_address(scheduler)
    if address:
        try:
            client = Client(address, timeout="10s")
        except OSError as exc:
            raise StoreUnavailable(tr("cannot reach the Dask scheduler at %(address)s: %(exc)s", address=address, exc=exc)) from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=processes,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client
