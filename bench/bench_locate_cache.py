"""`gridmap locate` on the CLI: cold (no persisted index) vs warm, and the baseline commit, in one run.

Stores: the demo store (`gridmap demo`, bench/data/locate_demo/demo.db) and the 50,000-grid
bench store (bench/make_data.py). For each: `old` is the baseline commit (bench_assign.py's
BASE_COMMIT tree, on a copy of the store without migration 0009), `cold` is this gridmap with
<store>.index/ removed before each run, `warm` is this gridmap with it in place. Runs
alternate (old cold warm | warm cold old | ...), wall time measured by the parent around the
subprocess, CPU (user+sys) from resource.getrusage of the children; PYTHONDONTWRITEBYTECODE
is unset so start-up is what a user's is (bytecode cached).

Usage: python bench/bench_locate_cache.py [--reps 7]. Writes bench/results/locate_cache.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from bench_assign import BASE_COMMIT, DATA, OLD_TREE, baseline_copy, prepare_old  # noqa: E402

DEMO = DATA / "locate_demo" / "demo.db"
POINT = ("116.58", "37.33")


def old_copy(db: Path) -> Path:
    """A copy of a store without migration 0009, for the baseline commit."""

    dst = db.with_name(db.stem + f"_{BASE_COMMIT}.db")
    baseline_copy(db, dst)
    return dst


def run(cmd: list[str], env: dict) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        sys.exit(f"{cmd} failed:\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_") and k != "PYTHONDONTWRITEBYTECODE"}
    gridmap = shutil.which("gridmap") or "gridmap"
    if not DEMO.exists():
        DEMO.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([gridmap, "--db", str(DEMO), "demo"], cwd=DEMO.parent, env=env, check=True, capture_output=True)
    prepare_old()
    stores = {"demo": DEMO}
    if (DATA / "bench.db").exists():
        stores["bench (50,000 grids)"] = DATA / "bench.db"
    rows, outputs = [], {}
    for label, db in stores.items():
        cache = db.with_name(db.name + ".index")
        cmds = {"old": [sys.executable, str(HERE / "old_gridmap.py"), str(OLD_TREE), "--db", str(old_copy(db)),
                        "locate", *POINT],
                "cold": [gridmap, "--db", str(db), "locate", *POINT],
                "warm": [gridmap, "--db", str(db), "locate", *POINT]}
        for name in cmds:  # untimed warm-up: page cache, bytecode, numba's cache
            run(cmds[name], env)
        res: dict[str, list[tuple[float, float]]] = {n: [] for n in cmds}
        for i in range(args.reps):
            for name in (list(cmds) if i % 2 == 0 else list(cmds)[::-1]):
                if name == "cold":
                    shutil.rmtree(cache, ignore_errors=True)
                elif name == "warm" and not cache.exists():
                    run(cmds["cold"], env)  # (re)write the cache, untimed
                wall, cpu, out = run(cmds[name], env)
                res[name].append((wall, cpu))
                outputs.setdefault(label, {}).setdefault(name, set()).add(out)
                print(f"{label} rep {i + 1} {name:4s} wall {wall:6.3f} s cpu {cpu:6.3f} s", flush=True)
        med = {n: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for n, v in res.items()}
        rows.append((label, med, res))
    lines = [
        "# `gridmap locate` on the CLI: baseline commit vs cold vs warm persisted index (one run)",
        "",
        f"- Date: {dt.datetime.now().astimezone().isoformat(timespec='seconds')}; {os.cpu_count()} CPUs, "
        f"{platform.platform()}, Python {platform.python_version()}; load average at the end "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (a shared machine: ratios within this run only)",
        f"- Command: `gridmap --db STORE locate {' '.join(POINT)}`; {args.reps} timed runs each after one untimed, "
        "alternating; `python bench/bench_locate_cache.py`",
        f"- old: commit {BASE_COMMIT} (SQLAlchemy store, index built from WKB); cold: this tree, <store>.index/ removed "
        "first (it reads the store with sqlite3, builds, writes the cache); warm: this tree, the cache in place "
        "(sqlite3 key lookup, memory-mapped arrays, no SQLAlchemy)",
        "",
        "| store | old wall (s) | cold wall (s) | warm wall (s) | old CPU (s) | cold CPU (s) | warm CPU (s) | old / warm |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, med, _ in rows:
        lines.append(f"| {label} | {med['old'][0]:.3f} | {med['cold'][0]:.3f} | {med['warm'][0]:.3f} | "
                     f"{med['old'][1]:.3f} | {med['cold'][1]:.3f} | {med['warm'][1]:.3f} | "
                     f"{med['old'][0] / med['warm'][0]:.2f}x |")
    lines += ["", "All runs (wall s / CPU s):", ""]
    for label, _, res in rows:
        for name, v in res.items():
            lines.append(f"- {label}, {name}: " + ", ".join(f"{w:.3f}/{c:.3f}" for w, c in v))
    lines += ["", "Same answer in every run: " + "; ".join(
        f"{label}: {len(set().union(*o.values())) == 1} ({next(iter(set().union(*o.values())))})"
        for label, o in outputs.items()), ""]
    out = HERE / "results" / "locate_cache.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
