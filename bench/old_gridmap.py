"""Run the `gridmap` CLI of another commit's tree: python bench/old_gridmap.py TREE ARGS...

TREE holds that commit's gridmap/ package (bench_assign.py extracts it with git archive). The
editable install's import hook would find this tree's gridmap first, so it is dropped.
"""

import os
import sys

tree, args = os.path.abspath(sys.argv[1]), sys.argv[2:]
sys.meta_path = [f for f in sys.meta_path if "editable" not in (getattr(f, "__module__", "") or "").lower()
                 and "editable" not in type(f).__name__.lower()]
sys.path.insert(0, tree)
import gridmap  # noqa: E402

assert gridmap.__file__.startswith(tree), gridmap.__file__
from gridmap.cli import main  # noqa: E402

main(args, prog_name="gridmap")
