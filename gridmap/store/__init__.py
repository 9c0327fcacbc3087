"""Storage behind one interface: SQLite file (embedded default) or PostgreSQL + PostGIS."""

from .base import Store, StoreInfo
from .sql import SQLStore, normalise_url, open_store

__all__ = ["Store", "StoreInfo", "SQLStore", "open_store", "normalise_url"]
