"""gridmap: a geospatial service for grid governance (网格化管理)."""

__version__ = "0.1.0"


def create_app(overrides=None):
    """Build the Flask app (imported lazily so the CLI starts fast)."""
    from .app import create_app as _create_app

    return _create_app(overrides)


__all__ = ["create_app", "__version__"]
