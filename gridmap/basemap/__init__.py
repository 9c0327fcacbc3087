"""Offline basemaps: tile packages (MBTiles) that gridmap reads and serves itself, so a government
network with no tile server still gets a street map under its grids."""

from .mbtiles import MBTiles, TileSourceError, is_tile_file, split_sources

__all__ = ["MBTiles", "TileSourceError", "is_tile_file", "split_sources"]
