"""Bulk assign, whole process, side by side: `gridmap assign` vs SedonaDB, DuckDB spatial and geopandas.sjoin.

Peers (bench/peer_sql_assign.py, `pip install -e '.[bench]'`): SedonaDB (Apache Sedona's
single-node engine) and DuckDB with the spatial extension loaded from the
duckdb-extension-spatial wheel; each does the whole job (read grids and points, spatial join
with ST_Covers and the lowest code, write the CSV) and its output is checked row by row
against gridmap's. --no-peers runs gridmap and the sjoin script only.

Also `old_gridmap`, the baseline commit (BASE_COMMIT, before the persisted index and the
compiled kernel) run from its own tree on a copy of the store at its schema revision, and
`gridmap_cold`, this gridmap with its persisted index removed before each run.

All run as separate processes (wall time includes interpreter start-up, imports, reading
the grids, reading the CSV, the join and writing the CSV), alternating, after one untimed
warm-up run each (so both find the files in the page cache). Peak RSS and CPU time come
from /usr/bin/time -v when available (else resource.getrusage(RUSAGE_CHILDREN), which
only gives the running maximum). Then the outputs are compared row by row on id.

Usage: python bench/bench_assign.py [--reps 3] [--no-warmup] [--no-peers]
Needs the data of bench/make_data.py. Writes bench/results/assign.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
RESULTS = HERE / "results"
TIME = "/usr/bin/time" if Path("/usr/bin/time").exists() else None


def rel(p: Path) -> str:
    return os.path.relpath(p, ROOT)


PEERS = ("sedonadb", "duckdb")
BASE_COMMIT = "c341592"  # gridmap before the persisted index and the compiled kernel (issue #13)
OLD_TREE = DATA / f"gridmap_{BASE_COMMIT}"
OLD_DB = DATA / f"bench_{BASE_COMMIT}.db"
CACHE = DATA / "bench.db.index"


def prepare_old() -> None:
    """The baseline commit's gridmap/ (git archive) and a copy of the store at its schema revision.

    The copy is bench.db less migration 0009 (its triggers and store_id table; the extra
    plans.units_rev column is left, unread by the old code), stamped 0008.
    """
    import tarfile
    import tempfile

    if not (OLD_TREE / "gridmap" / "__init__.py").exists():
        OLD_TREE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as fh:
            subprocess.run(["git", "archive", BASE_COMMIT, "gridmap"], cwd=ROOT, stdout=fh, check=True)
            fh.seek(0)
            tarfile.open(fileobj=fh).extractall(OLD_TREE, filter="data")
    baseline_copy(DATA / "bench.db", OLD_DB)


def baseline_copy(src: Path, dst: Path) -> None:
    """``dst``: ``src`` less migration 0009 (its triggers and store_id table), stamped 0008, for the
    baseline code; copied again only when ``src`` is newer."""
    import sqlite3

    if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
        return
    shutil.copyfile(src, dst)
    con = sqlite3.connect(dst)
    with con:
        for event in ("insert", "update", "delete"):
            con.execute(f"DROP TRIGGER IF EXISTS units_rev_{event}")
        con.execute("DROP TABLE IF EXISTS store_id")
        con.execute("UPDATE alembic_version SET version_num = '0008'")
    con.close()


def commands(prototype: bool = False, peers: bool = True) -> dict[str, list[str]]:
    gridmap = shutil.which("gridmap") or "gridmap"
    extra = {"prototype": [sys.executable, rel(HERE / "prototype_fast_assign.py"), rel(DATA / "bench.db"),
                           rel(DATA / "points_1m.csv"), rel(DATA / "out_prototype.csv")]} if prototype else {}
    base = {
        "gridmap": [gridmap, "--db", rel(DATA / "bench.db"), "assign", rel(DATA / "points_1m.csv"),
                    "--out", rel(DATA / "out_gridmap.csv")],
        # the same with no persisted index: each run starts by removing bench.db.index/
        "gridmap_cold": [gridmap, "--db", rel(DATA / "bench.db"), "assign", rel(DATA / "points_1m.csv"),
                         "--out", rel(DATA / "out_gridmap_cold.csv")],
        "old_gridmap": [sys.executable, rel(HERE / "old_gridmap.py"), rel(OLD_TREE), "--db", rel(OLD_DB), "assign",
                        rel(DATA / "points_1m.csv"), "--out", rel(DATA / "out_old_gridmap.csv")],
        "baseline": [sys.executable, rel(HERE / "baseline_sjoin.py"), rel(DATA / "grids.gpkg"),
                     rel(DATA / "points_1m.csv"), rel(DATA / "out_baseline.csv")],
    }
    for p in PEERS if peers else ():
        extra[p] = [sys.executable, rel(HERE / "peer_sql_assign.py"), p, rel(DATA / "grids.gpkg"),
                    rel(DATA / "points_1m.csv"), rel(DATA / f"out_{p}.csv")]
    return base | extra


def compare_peer(name: str) -> dict:
    """Row by row, a peer's output against gridmap's: same ids in order, same codes, same text."""
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    def read(path):
        with open(path, encoding="utf-8") as fh:
            cols = fh.readline().strip().replace('"', "").split(",")
        import pyarrow as pa
        return pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
            column_types={c: pa.string() for c in cols}, strings_can_be_null=False))

    g, p = read(DATA / "out_gridmap.csv"), read(DATA / f"out_{name}.csv")
    out = {"rows": p.num_rows, "same_ids_same_order": g.num_rows == p.num_rows and g["id"].equals(p["id"])}
    if out["same_ids_same_order"]:
        differ = pc.or_(pc.not_equal(g["grid_code"], p["grid_code"]), pc.not_equal(g["zone_code"], p["zone_code"]))
        out["differing_rows"] = int(pc.sum(differ).as_py() or 0)
        out["input_text_identical"] = all(g[c].equals(p[c]) for c in ("lon", "lat", "kind"))
        out["byte_identical"] = (DATA / "out_gridmap.csv").read_bytes() == (DATA / f"out_{name}.csv").read_bytes()
    return out


def run(name: str, cmd: list[str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    if name == "gridmap_cold":
        shutil.rmtree(CACHE, ignore_errors=True)
    full = [TIME, "-v", *cmd] if TIME else cmd
    t0 = time.perf_counter()
    proc = subprocess.run(full, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    res = {"name": name, "wall": wall}
    if TIME:
        def grab(label: str) -> float:
            m = re.search(rf"{re.escape(label)}: ([\d.:]+)", proc.stderr)
            return float(m.group(1)) if m else float("nan")
        res["rss_mb"] = grab("Maximum resident set size (kbytes)") / 1024
        res["cpu"] = grab("User time (seconds)") + grab("System time (seconds)")
    else:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        res["rss_mb"] = ru.ru_maxrss / 1024  # running max over all children so far
        res["cpu"] = float("nan")
    return res


def compare() -> dict:
    import pandas as pd

    opts = dict(dtype=str, keep_default_na=False)
    g = pd.read_csv(DATA / "out_gridmap.csv", **opts)
    b = pd.read_csv(DATA / "out_baseline.csv", **opts)
    out = {"rows_gridmap": len(g), "rows_baseline": len(b),
           "same_ids_same_order": bool(len(g) == len(b) and (g["id"].values == b["id"].values).all())}
    m = g.merge(b, on="id", suffixes=("_g", "_b"), how="outer", indicator=True)
    out["ids_only_in_one"] = int((m["_merge"] != "both").sum())
    diff = m[(m["grid_code_g"] != m["grid_code_b"]) | (m["zone_code_g"] != m["zone_code_b"])]
    out["differing_rows"] = len(diff)
    out["assigned"] = int((g["grid_code"] != "").sum())
    out["unassigned"] = int((g["grid_code"] == "").sum())
    out["input_columns_identical_text"] = bool(all((m[f"{c}_g"] == m[f"{c}_b"]).all() for c in ("lon", "lat", "kind")))
    # the baseline re-formats the floats it parsed (e.g. 116.2000000 -> 116.2); gridmap keeps the text
    text_diff = (m["lon_g"] != m["lon_b"]) | (m["lat_g"] != m["lat_b"])
    out["coordinate_text_differs"] = int(text_diff.sum())
    out["coordinate_values_differ"] = int(((m["lon_g"].astype(float) != m["lon_b"].astype(float))
                                           | (m["lat_g"].astype(float) != m["lat_b"].astype(float))).sum())
    out["kind_differs"] = int((m["kind_g"] != m["kind_b"]).sum())
    if text_diff.any():
        r = m[text_diff].iloc[0]
        out["coordinate_text_example"] = f"gridmap {r.lon_g},{r.lat_g} / baseline {r.lon_b},{r.lat_b}"
    if len(diff):
        import geopandas as gpd
        import shapely

        grids = gpd.read_file(DATA / "grids.gpkg", layer="grids").set_index("code")
        kinds = {"gridmap only (boundary, covers vs within)": 0, "baseline only": 0, "different grid": 0}
        on_boundary = 0
        for _, r in diff.iterrows():
            if r.grid_code_b == "":
                kinds["gridmap only (boundary, covers vs within)"] += 1
            elif r.grid_code_g == "":
                kinds["baseline only"] += 1
            else:
                kinds["different grid"] += 1
            code = r.grid_code_g or r.grid_code_b
            pt = shapely.Point(float(r.lon_g), float(r.lat_g))
            on_boundary += int(grids.geometry[code].boundary.distance(pt) == 0)
        out["diff_kinds"] = kinds
        out["diff_on_boundary"] = on_boundary
        out["diff_sample"] = diff.head(5)[["id", "lon_g", "lat_g", "grid_code_g", "grid_code_b"]].to_dict("records")
    return out


def versions() -> str:
    import geopandas
    import numpy
    import pandas
    import pyarrow
    import pyogrio
    import shapely

    return (f"Python {platform.python_version()}, shapely {shapely.__version__} (GEOS {shapely.geos_version_string}), "
            f"geopandas {geopandas.__version__}, pandas {pandas.__version__}, pyarrow {pyarrow.__version__}, "
            f"pyogrio {pyogrio.__version__}, numpy {numpy.__version__}" + _peer_versions())


def _peer_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for pkg in ("sedonadb", "duckdb", "duckdb-extension-spatial"):
        try:
            out.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    return (", " + ", ".join(out)) if out else ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--no-warmup", action="store_true")
    ap.add_argument("--out", default=None, help="default: bench/results/assign.md (assign_with_prototype.md)")
    ap.add_argument("--no-peers", action="store_true", help="skip SedonaDB and DuckDB spatial")
    ap.add_argument("--prototype", action="store_true",
                    help="also run bench/prototype_fast_assign.py (a sketch of suggested gridmap changes)")
    args = ap.parse_args()
    args.out = args.out or str(RESULTS / ("assign_with_prototype.md" if args.prototype else "assign.md"))
    for f in ("bench.db", "grids.gpkg", "points_1m.csv"):
        if not (DATA / f).exists():
            sys.exit(f"missing {DATA / f}: run python bench/make_data.py first")
    prepare_old()
    cmds = commands(args.prototype, peers=not args.no_peers)
    names = list(cmds)
    if not args.no_warmup:
        for name in names:
            r = run(name, cmds[name])
            print(f"warm-up {name:8s} {r['wall']:6.2f} s (not counted)", flush=True)
    runs: list[dict] = []
    for i in range(args.reps):
        order = names if i % 2 == 0 else names[::-1]
        for name in order:
            r = run(name, cmds[name])
            r["rep"] = i + 1
            runs.append(r)
            print(f"rep {i + 1} {name:8s} wall {r['wall']:6.2f} s  cpu {r['cpu']:6.2f} s  peak RSS {r['rss_mb']:7.0f} MB",
                  flush=True)
    med = {n: {k: statistics.median(r[k] for r in runs if r["name"] == n) for k in ("wall", "cpu", "rss_mb")}
           for n in cmds}
    ratio = med["baseline"]["wall"] / med["gridmap"]["wall"]
    print(f"median wall: gridmap {med['gridmap']['wall']:.2f} s, baseline {med['baseline']['wall']:.2f} s, "
          f"baseline/gridmap = {ratio:.2f}x (target >= 2x)")
    cmp = compare()
    peers = {p: compare_peer(p) for p in PEERS if p in cmds}
    for p, c in peers.items():
        print(f"{p}: median {med[p]['wall']:.2f} s, {p}/gridmap = {med[p]['wall'] / med['gridmap']['wall']:.2f}x; "
              f"row by row: {c}")
    if args.prototype:
        import filecmp

        same = filecmp.cmp(DATA / "out_prototype.csv", DATA / "out_gridmap.csv", shallow=False)
        p_ratio = med["baseline"]["wall"] / med["prototype"]["wall"]
        print(f"prototype: median {med['prototype']['wall']:.2f} s, baseline/prototype = {p_ratio:.2f}x, "
              f"output byte-identical to gridmap's: {same}")
    print("comparison:", json.dumps(cmp, ensure_ascii=False, default=str))

    meta = json.loads((DATA / "meta.json").read_text()) if (DATA / "meta.json").exists() else {}
    st = meta.get("stats", {})
    v = st.get("vertices", {})
    lines = [
        "# Bulk assign: `gridmap assign` vs SedonaDB, DuckDB spatial and a geopandas.sjoin script (whole process)"
        if peers else "# Bulk assign: `gridmap assign` vs geopandas.sjoin script (whole process)",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {cpu_model()}, {platform.platform()}",
        f"- {versions()}",
        f"- Data (bench/make_data.py): {st.get('grids', '?'):,} grids (vertices min {v.get('min')}, median {v.get('median')}, "
        f"p95 {v.get('p95')}, max {v.get('max')}), {st.get('zones', '?')} zones, {st.get('points', '?'):,} points",
        f"- Runs: {'1 untimed warm-up each, then ' if not args.no_warmup else ''}{args.reps} timed runs each, alternating; "
        "wall time measured by the parent around the subprocess; CPU (user+sys) and peak RSS from "
        + ("`/usr/bin/time -v`" if TIME else "getrusage(RUSAGE_CHILDREN)"),
        "",
        "Commands (cwd = repository root):",
        "",
        "```",
        "python bench/bench_assign.py" + (f" --reps {args.reps}" if args.reps != 3 else "")
        + (" --prototype" if args.prototype else ""),
        *(" ".join(c if i else os.path.basename(c) for i, c in enumerate(cmd)) for cmd in cmds.values()),
        f"# old_gridmap: `git archive {BASE_COMMIT} gridmap` into {rel(OLD_TREE)}, its store a copy of bench.db "
        "without migration 0009, stamped 0008",
        "```",
        "",
        "| run | tool | wall (s) | CPU user+sys (s) | peak RSS (MB) |",
        "|---|---|---:|---:|---:|",
        *(f"| {r['rep']} | {r['name']} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['rss_mb']:.0f} |" for r in runs),
        *(f"| **median** | **{n}** | **{med[n]['wall']:.2f}** | **{med[n]['cpu']:.2f}** | **{med[n]['rss_mb']:.0f}** |"
          for n in cmds),
        "",
        f"**Speed-up (median wall, baseline / gridmap): {ratio:.2f}x** — target >= 2x: "
        f"{'met' if ratio >= 2 else 'NOT met'}.",
        *(f"**{p} / gridmap (median wall): {med[p]['wall'] / med['gridmap']['wall']:.2f}x**"
          + (" — target >= 2x: " + ("met" if med[p]['wall'] / med['gridmap']['wall'] >= 2 else "NOT met")
             if p == "sedonadb" else "") + "." for p in peers),
        f"**old gridmap ({BASE_COMMIT}) / gridmap (median wall): {med['old_gridmap']['wall'] / med['gridmap']['wall']:.2f}x**"
        f" (CPU {med['old_gridmap']['cpu'] / med['gridmap']['cpu']:.2f}x); peak RSS {med['old_gridmap']['rss_mb']:.0f} -> "
        f"{med['gridmap']['rss_mb']:.0f} MB (target < 600 MB: {'met' if med['gridmap']['rss_mb'] < 600 else 'NOT met'}).",
        f"**gridmap with no persisted index** (`gridmap_cold`: bench.db.index/ removed before each run, as after a "
        f"publish): median {med['gridmap_cold']['wall']:.2f} s, CPU {med['gridmap_cold']['cpu']:.2f} s, peak RSS "
        f"{med['gridmap_cold']['rss_mb']:.0f} MB; sedonadb / gridmap_cold "
        f"{med['sedonadb']['wall'] / med['gridmap_cold']['wall']:.2f}x" if "sedonadb" in med else "",
        "",
        "## Identical results",
        "",
        f"- old gridmap ({BASE_COMMIT}) and gridmap_cold against gridmap: files byte-identical: "
        f"{(DATA / 'out_old_gridmap.csv').read_bytes() == (DATA / 'out_gridmap.csv').read_bytes()}, "
        f"{(DATA / 'out_gridmap_cold.csv').read_bytes() == (DATA / 'out_gridmap.csv').read_bytes()}",
        f"- Rows: gridmap {cmp['rows_gridmap']:,}, baseline {cmp['rows_baseline']:,}; same ids in the same order: "
        f"{cmp['same_ids_same_order']}; ids in only one output: {cmp['ids_only_in_one']}",
        f"- Rows whose grid_code or zone_code differ: **{cmp['differing_rows']}** "
        f"(assigned {cmp['assigned']:,}, outside every grid {cmp['unassigned']:,})",
        f"- Input columns (lon, lat, kind) identical as text in both outputs: {cmp['input_columns_identical_text']} "
        f"(rows whose lon/lat text differ: {cmp['coordinate_text_differs']:,}, whose lon/lat values differ: "
        f"{cmp['coordinate_values_differ']}, kind differs: {cmp['kind_differs']}"
        + (f"; e.g. {cmp['coordinate_text_example']}: pandas re-formats the floats it parsed, gridmap writes the "
           "input text unchanged" if cmp["coordinate_text_differs"] else "") + ")",
    ]
    for p, c in peers.items():
        lines += [f"- {p} (bench/peer_sql_assign.py) against gridmap, row by row: {c['rows']:,} rows, same ids in "
                  f"the same order: {c['same_ids_same_order']}; rows whose grid_code or zone_code differ: "
                  f"**{c.get('differing_rows', '?')}**; input text identical: {c.get('input_text_identical')}; "
                  f"files byte-identical: {c.get('byte_identical')}"]
    if args.prototype:
        lines += [f"- bench/prototype_fast_assign.py (NOT gridmap: a sketch of suggested changes): median "
                  f"{med['prototype']['wall']:.2f} s, baseline/prototype = **{p_ratio:.2f}x**; output byte-identical "
                  f"to gridmap's: {same}"]
    if cmp["differing_rows"]:
        lines += [f"- Kinds of difference: {cmp['diff_kinds']}; of them exactly on a grid boundary: {cmp['diff_on_boundary']}",
                  f"- Sample: {cmp['diff_sample']}"]
    lines += [
        "",
        "Boundary rule: `within` gives no grid to a point exactly on a boundary; gridmap uses `covers` and, on a shared "
        "edge, the lowest code. With random float points no point falls exactly on a boundary, so 0 differences are expected.",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
