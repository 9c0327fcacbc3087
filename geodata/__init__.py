"""Demo data files (see README.md here); shipped inside the package as gridmap.geodata."""
