"""The grid registry: units and people (model), staff and 1+1+N teams, codes, validation, the spatial index
and bulk assignment of points to grids, the gazetteer of places."""
