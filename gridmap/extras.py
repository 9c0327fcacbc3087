"""Optional parts of gridmap and the message a user gets when one is called without its extra.

The core install (`pip install gridmap`) runs the demo, the web app, the CLI, printing and the
planner's own tools. Two heavy parts are extras:

- `gridmap[dask]`: bulk assignment and metrics on a Dask cluster (`--engine dask`, `--history`);
- `gridmap[spopt]`: the PySAL spopt comparison methods of the planner's proposals (`skater`, `maxp`).

- `gridmap[fast]`: numba, for the compiled point-in-polygon kernel of bulk assign (pipkernel.py);
  without it the same answers come from GEOS, more slowly, and nothing asks for it.

`gridmap[all]` installs all three.
"""

from __future__ import annotations

import importlib

from .errors import MissingExtra
from .i18n import tr

EXTRAS = {
    "dask": ("dask", "dask.dataframe", "distributed", "dask_geopandas"),
    "spopt": ("spopt", "libpysal"),
}


def require(extra: str, feature: str) -> None:
    """Import the modules of `extra`, or raise MissingExtra naming the extra and the install command."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError:
            cmd = f"pip install 'gridmap[{extra}]'"
            raise MissingExtra(tr("%(feature)s needs the optional extra gridmap[%(extra)s], which is not installed (no "
                                  "module %(module)s): %(cmd)s", feature=feature, extra=extra, module=module, cmd=cmd)) from None
