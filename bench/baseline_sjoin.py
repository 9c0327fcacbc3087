"""The script a GIS user would write for `gridmap assign`: geopandas.sjoin, CSV in, CSV out.

Usage: python bench/baseline_sjoin.py GRIDS.gpkg POINTS.csv OUT.csv

Plain, idiomatic geopandas/pandas with default options (pyogrio reader, pandas' C CSV
parser and writer): read the grids and the points, sjoin(predicate="within"), keep the
first match if a point matched several grids, write the points with grid_code and zone_code.
"""

import sys

import geopandas as gpd
import pandas as pd

grids_path, points_path, out_path = sys.argv[1:4]

grids = gpd.read_file(grids_path, layer="grids")
points = pd.read_csv(points_path)
points = gpd.GeoDataFrame(points, geometry=gpd.points_from_xy(points["lon"], points["lat"]), crs="EPSG:4326")

joined = gpd.sjoin(points, grids[["code", "zone_code", "geometry"]], predicate="within", how="left")
joined = joined[~joined.index.duplicated(keep="first")]
joined = joined.rename(columns={"code": "grid_code"}).drop(columns=["geometry", "index_right"])
joined.to_csv(out_path, index=False)
print(f"wrote {out_path}: {len(joined):,} rows, {joined['grid_code'].notna().sum():,} in a grid", file=sys.stderr)
