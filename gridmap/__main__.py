"""`python -m gridmap` = the `gridmap` command."""

from gridmap.cli import main

main()
