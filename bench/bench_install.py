"""Issue #10: the core install and the CLI's start-up, before (a baseline commit) and after (this tree),
side by side in one run.

For each side, alternating (before, after, before, after, ...): a fresh venv, `pip install --no-cache-dir`
of a clean `git archive` of the side (the after side through requirements/constraints.txt, as the README
says), its wall time and the venv's size; then, in the after venv and the before venv over their own demo
stores, `gridmap --help`, a `gridmap locate` and a refused bad coordinate, each timed N times.

    python bench/bench_install.py [--baseline 9aaf4d1] [--reps 2] [--cli-reps 5]   -> results/install.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sh(cmd, cwd=None, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, check=check, capture_output=True, text=True)


def tree_of(ref: str | None, dst: Path) -> Path:
    """A clean copy of commit `ref` (None: HEAD of this checkout) at dst."""
    dst.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref or "HEAD"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dst)], input=archive, check=True)
    return dst


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def install(src: Path, venv: Path, pinned: bool) -> tuple[float, float]:
    sh([sys.executable, "-m", "venv", str(venv)])
    cmd = [str(venv / "bin" / "pip"), "install", "-q", "--no-cache-dir"]
    if pinned:
        cmd += ["-c", "requirements/constraints.txt"]
    t = time.perf_counter()
    sh(cmd + ["."], cwd=src)
    return time.perf_counter() - t, du_mb(venv)


def timed(cmd, cwd, reps: int) -> float:
    runs = []
    for _ in range(reps):
        t = time.perf_counter()
        subprocess.run(cmd, cwd=cwd, capture_output=True)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="9aaf4d1", help="the commit before issue #10")
    ap.add_argument("--reps", type=int, default=2, help="installs per side")
    ap.add_argument("--cli-reps", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridmap-bench-install-"))
    try:
        sides = {"before": tree_of(args.baseline, work / "before"), "after": tree_of(None, work / "after")}
        installs: dict[str, list[tuple[float, float]]] = {"before": [], "after": []}
        for i in range(args.reps):
            for side in ("before", "after") if i % 2 == 0 else ("after", "before"):
                venv = work / f"venv-{side}-{i}"
                installs[side].append(install(sides[side], venv, pinned=side == "after"))
                if i < args.reps - 1:
                    shutil.rmtree(venv)
        cli = {}
        for side in ("before", "after"):
            venv = work / f"venv-{side}-{args.reps - 1}"
            gm = str(venv / "bin" / "gridmap")
            demo = work / f"demo-{side}"
            demo.mkdir()
            sh([gm, "demo"], cwd=demo)
            cli[side] = {"help": timed([gm, "--help"], demo, args.cli_reps),
                         "locate": timed([gm, "locate", "116.58", "37.33"], demo, args.cli_reps),
                         "bad": timed([gm, "locate", "37.33", "116.58"], demo, args.cli_reps)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = ROOT / "bench" / "results" / "install.md"
    lines = [f"# Core install and CLI start-up: {args.baseline} vs this tree (issue #10)", "",
             f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}; {os.cpu_count()} CPUs; "
             f"load average {os.getloadavg()[0]:.2f} at the end", f"- Command: `python bench/bench_install.py "
             f"--baseline {args.baseline} --reps {args.reps} --cli-reps {args.cli_reps}`", "",
             "| side | install wall (s), each | venv (MB) | `--help` (s) | `locate` (s) | bad coordinate (s) |",
             "|---|---|---:|---:|---:|---:|"]
    for side in ("before", "after"):
        walls = ", ".join(f"{w:.1f}" for w, _ in installs[side])
        c = cli[side]
        lines.append(f"| {side} | {walls} | {installs[side][-1][1]:.0f} | {c['help']:.2f} | {c['locate']:.2f} | "
                     f"{c['bad']:.2f} |")
    b, a = statistics.median(w for w, _ in installs["before"]), statistics.median(w for w, _ in installs["after"])
    lines += ["", f"Install: before/after = {b / a:.2f}x faster; size {installs['before'][-1][1]:.0f} MB -> "
              f"{installs['after'][-1][1]:.0f} MB. Locate (median of {args.cli_reps}): "
              f"{cli['before']['locate'] / cli['after']['locate']:.2f}x.", ""]
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
