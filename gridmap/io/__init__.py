"""Files in and out: readers (GeoJSON, GeoPackage, Shapefile, CSV), atomic writers, CSV formula escaping."""
