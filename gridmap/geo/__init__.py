"""Geography as data: CRS (incl. GCJ-02/BD-09), coordinates, the jurisdiction outline, shape helpers."""
