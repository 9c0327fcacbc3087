"""Bulk jobs on Dask: point-to-grid assignment and incident metrics over GeoParquet partitions.

The same code runs on a `LocalCluster` (tests, one machine) and on a distributed cluster
(production: a scheduler address). Results equal the single-machine paths
(`gridmap.registry.assign`, `gridmap.incidents.metrics`) on the same data.
"""
