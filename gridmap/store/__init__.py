"""Storage behind one interface: SQLite file (embedded default) or PostgreSQL + PostGIS.

The SQL store is imported on first use of its names (PEP 562), so `gridmap assign` on a
SQLite file can read the grids through store/gridread.py without loading SQLAlchemy.
"""

from .base import Store, StoreInfo

__all__ = ["Store", "StoreInfo", "SQLStore", "open_store", "normalise_url"]


def __getattr__(name: str):
    if name in ("SQLStore", "open_store", "normalise_url"):
        from . import sql

        return getattr(sql, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
