"""PEER, not gridmap: the `gridmap assign` job done by a spatial SQL engine (SedonaDB or DuckDB spatial).

Same input and output as `gridmap --db bench.db assign POINTS.csv --out OUT.csv`: every row of
the CSV with its text kept, plus grid_code and zone_code, by the same rule (the grid that
*covers* the point; on a shared edge or vertex the lowest code; '' outside every grid).

    grids:  bench/data/grids.gpkg, layer grids (code, zone_code, WKB), read with pyogrio as Arrow
    points: the CSV read by pyarrow as text columns; lon/lat cast to double
    join:   SELECT rn, min(code) FROM points JOIN grids ON ST_Covers(geom, ST_Point(lon, lat))
            GROUP BY rn   -- the engine's own spatial join, then the lowest code per point
    output: codes scattered back into row order with Arrow, written by pyarrow's CSV writer

DuckDB's spatial extension is loaded from the file shipped in the `duckdb-extension-spatial`
wheel (no download at run time). Peers are bench-only: `pip install -e '.[bench]'`.

Usage: python bench/peer_sql_assign.py {sedonadb|duckdb} GRIDS.gpkg POINTS.csv OUT.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv as pacsv

JOIN = ("SELECT p.rn AS rn, min(g.code) AS code FROM points p JOIN grids g "
        "ON ST_Covers(g.geom, ST_Point(p.lon, p.lat)) GROUP BY p.rn")


def read_inputs(grids_path: str, points_path: str) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(the CSV as text, points rn/lon/lat, grids code/zone_code/wkb) as Arrow tables."""
    import pyogrio

    _, grids = pyogrio.read_arrow(grids_path, layer="grids", columns=["code", "zone_code"])
    grids = pa.table({"code": grids["code"], "zone_code": grids["zone_code"],
                      "wkb": grids[grids.column_names[-1]].cast(pa.binary())})
    header = open(points_path, encoding="utf-8-sig").readline().rstrip("\r\n").split(",")
    text = pacsv.read_csv(points_path, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=False))
    points = pa.table({"rn": pa.array(np.arange(len(text), dtype=np.int64)),
                       "lon": pc.cast(text["lon"], pa.float64()), "lat": pc.cast(text["lat"], pa.float64())})
    return text, points, grids


def join_sedonadb(points: pa.Table, grids: pa.Table) -> pa.Table:
    import sedonadb

    sd = sedonadb.connect()
    sd.create_data_frame(points).to_view("points_raw")
    sd.create_data_frame(grids).to_view("grids_raw")
    sd.sql("SELECT rn, lon, lat FROM points_raw").to_view("points")
    sd.sql("SELECT code, ST_GeomFromWKB(wkb) AS geom FROM grids_raw").to_memtable().to_view("grids")
    return sd.sql(JOIN).to_arrow_table()


def join_duckdb(points: pa.Table, grids: pa.Table) -> pa.Table:
    import duckdb
    import duckdb_extension_spatial

    ext = next(Path(duckdb_extension_spatial.__file__).parent.rglob("spatial.duckdb_extension"))
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    con.execute(f"LOAD '{ext}'")
    con.register("points", points)
    con.register("grids_raw", grids)
    con.execute("CREATE TABLE grids AS SELECT code, ST_GeomFromWKB(wkb) AS geom FROM grids_raw")
    return con.execute(JOIN).to_arrow_table()


def main() -> None:
    engine, grids_path, points_path, out = sys.argv[1:5]
    text, points, grids = read_inputs(grids_path, points_path)
    hits = {"sedonadb": join_sedonadb, "duckdb": join_duckdb}[engine](points, grids)
    # Scatter the per-point lowest code back into row order ('' = outside every grid).
    codes = grids["code"].combine_chunks()
    zones = grids["zone_code"].combine_chunks()
    pos = np.full(len(text), len(codes), dtype=np.int64)
    rn = hits["rn"].to_numpy()
    pos[rn] = pc.index_in(hits["code"], value_set=codes).to_numpy(zero_copy_only=False)
    take = pa.array(pos, mask=pos == len(codes))  # null: the CSV writer leaves the cell empty, as gridmap
    text = text.append_column("grid_code", pa.concat_arrays([codes.cast(pa.string()), pa.array([""])]).take(take))
    text = text.append_column("zone_code", pa.concat_arrays([zones.cast(pa.string()), pa.array([""])]).take(take))
    pacsv.write_csv(text, out, write_options=pacsv.WriteOptions(quoting_style="needed"))
    print(f"{engine}: {len(text):,} rows, {len(hits):,} in a grid", file=sys.stderr)


if __name__ == "__main__":
    main()
