"""Import: every supported format and CRS, and every bad input named in the issue."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.geo.chinacrs import wgs84_to_bd09, wgs84_to_gcj02
from gridmap.registry.model import Level
from gridmap.registry.validate import ImportSpec

from .conftest import GRIDS, ZONE, fc, feat, square, write_json

GRID = ImportSpec(Level.grid, parent_field="parent_code")


def new_grid(code="110101001001004", geometry=None, **props):
    return feat(geometry or square(116.02, 39.02, 116.04, 39.04), code=code, name="新网格", parent_code=ZONE, **props)


def counts(services):
    return services.store.info().counts


def import_fails(services, path, spec=GRID, match=None, **kw):
    """Assert the import is refused with a message matching `match` and the store is unchanged."""
    before = counts(services)
    with pytest.raises(InputError, match=match) as err:
        services.import_units(path, spec, **kw)
    assert counts(services) == before
    return str(err.value)


# -- formats ---------------------------------------------------------------------------------
def _rows(services, code):
    return services.store.unit(code)


def test_geopackage_with_its_own_crs(services, tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"code": ["110101001001004"], "name": ["新网格"], "parent_code": [ZONE]},
                           geometry=[shapely.box(116.02, 39.02, 116.04, 39.04)], crs="EPSG:4490")
    gdf.to_file(tmp_path / "g.gpkg", layer="grids", driver="GPKG")
    services.import_units(tmp_path / "g.gpkg", GRID)
    assert shapely.hausdorff_distance(_rows(services, "110101001001004").geometry,
                                      shapely.box(116.02, 39.02, 116.04, 39.04)) < 1e-9


def test_zipped_shapefile_in_gauss_kruger(services, tmp_path):
    import geopandas as gpd

    # shapefile field names stop at 10 characters: the parent field is "parent" here
    gdf = gpd.GeoDataFrame({"code": ["110101001001004"], "name": ["新网格"], "parent": [ZONE]},
                           geometry=[shapely.box(116.02, 39.02, 116.04, 39.04)], crs="EPSG:4326").to_crs("EPSG:4548")
    shp_dir = tmp_path / "shp"
    shp_dir.mkdir()
    gdf.to_file(shp_dir / "grids.shp", encoding="UTF-8")
    with zipfile.ZipFile(tmp_path / "grids.zip", "w") as zf:
        for f in shp_dir.iterdir():
            zf.write(f, f.name)
    services.import_units(tmp_path / "grids.zip", ImportSpec(Level.grid, parent_field="parent"))
    u = _rows(services, "110101001001004")
    assert u.name == "新网格"  # Chinese attributes survive the shapefile round trip
    assert shapely.hausdorff_distance(u.geometry, shapely.box(116.02, 39.02, 116.04, 39.04)) < 1e-7


def test_csv_with_wkt_needs_a_crs(services, tmp_path):
    p = tmp_path / "g.csv"
    p.write_text('code,name,parent_code,wkt\n110101001001004,新网格,%s,"POLYGON ((116.02 39.02, 116.04 39.02, '
                 '116.04 39.04, 116.02 39.04, 116.02 39.02))"\n' % ZONE, encoding="utf-8")
    import_fails(services, p, match="declares no CRS")
    services.import_units(p, GRID, crs="EPSG:4326")
    assert _rows(services, "110101001001004").name == "新网格"


@pytest.mark.parametrize("crs,fn", [("GCJ-02", wgs84_to_gcj02), ("BD-09", wgs84_to_bd09)])
def test_geojson_from_chinese_web_maps(services, tmp_path, crs, fn):
    box = shapely.box(116.02, 39.02, 116.04, 39.04)
    shifted = shapely.transform(box, lambda c: np.column_stack(fn(c[:, 0], c[:, 1])))
    assert shapely.hausdorff_distance(shifted, box) > 0.003  # hundreds of metres of offset
    p = write_json(tmp_path / "g.geojson", fc([new_grid(geometry=shapely.geometry.mapping(shifted))]))
    services.import_units(p, GRID, crs=crs)
    assert shapely.hausdorff_distance(_rows(services, "110101001001004").geometry, box) < 1e-8


def test_generated_codes_run_in_reading_order(services, tmp_path):
    # four cells in a 2x2 block inside grid 1's zone: NW, NE, SW, SE -> 004..007 (001-003 taken)
    cells = {"NW": (116.02, 39.06), "NE": (116.06, 39.06), "SW": (116.02, 39.02), "SE": (116.06, 39.02)}
    feats = [feat(square(x, y, x + 0.03, y + 0.03), name=k, parent_code=ZONE) for k, (x, y) in
             [("SE", cells["SE"]), ("NW", cells["NW"]), ("SW", cells["SW"]), ("NE", cells["NE"])]]
    p = write_json(tmp_path / "g.geojson", fc(feats))
    services.import_units(p, ImportSpec(Level.grid, code_field=None, parent_field="parent_code", generate_codes=True))
    by_name = {u.name: u.code for u in services.units(Level.grid)}
    assert [by_name[k] for k in ("NW", "NE", "SW", "SE")] == [ZONE + s for s in ("004", "005", "006", "007")]


def test_dry_run_writes_nothing(services, tmp_path):
    p = write_json(tmp_path / "g.geojson", fc([new_grid()]))
    before = counts(services)
    rep = services.import_units(p, GRID, dry_run=True)
    assert rep.count == 1 and not rep.written
    assert counts(services) == before


# -- bad input -------------------------------------------------------------------------------
def test_swapped_lat_lon(services, tmp_path):
    swapped = shapely.geometry.mapping(shapely.box(39.02, 116.02, 39.04, 116.04))
    msg = import_fails(services, write_json(tmp_path / "g.geojson", fc([new_grid(geometry=swapped)])), match="swapped")
    assert "feature 1 (code 110101001001004)" in msg


def test_out_of_range(services, tmp_path):
    bad = square(116.02, 95.0, 116.04, 95.1)
    import_fails(services, write_json(tmp_path / "g.geojson", fc([new_grid(geometry=bad)])), match="out of range")


def test_nan_coordinates(services, tmp_path):
    p = tmp_path / "g.csv"
    p.write_text(f'code,name,parent_code,wkt\nX1,n,{ZONE},"POLYGON ((116.02 39.02, NaN 39.02, 116.04 39.04, 116.02 39.02))"\n')
    import_fails(services, p, crs="EPSG:4326", match="NaN")


def test_empty_and_non_polygon(services, tmp_path):
    feats = [new_grid("A1"), new_grid("A2", geometry={"type": "Point", "coordinates": [116.03, 39.03]})]
    feats[0]["geometry"] = None
    msg = import_fails(services, write_json(tmp_path / "g.geojson", fc(feats)), match="2 problems")
    assert "feature 1 (code A1): geometry is empty or missing" in msg
    assert "feature 2 (code A2): geometry is a Point, not a Polygon" in msg


def test_self_intersection_reported_with_location_then_repaired_on_request(services, tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[116.02, 39.02], [116.04, 39.04], [116.04, 39.02], [116.02, 39.04], [116.02, 39.02]]]}
    p = write_json(tmp_path / "g.geojson", fc([new_grid(geometry=bowtie)]))
    msg = import_fails(services, p, match="self-intersection at lon 116.030000, lat 39.030000")
    assert "--repair" in msg
    rep = services.import_units(p, ImportSpec(Level.grid, parent_field="parent_code", repair=True))
    assert rep.repairs and "self-intersection" in rep.repairs[0]
    assert services.store.unit("110101001001004").geometry.is_valid


def test_child_outside_parent(services, tmp_path):
    sticking_out = square(116.25, 39.05, 116.35, 39.08)  # east half outside the zone
    msg = import_fails(services, write_json(tmp_path / "g.geojson", fc([new_grid(geometry=sticking_out)])),
                       match="lies outside its parent")
    assert ZONE in msg and "m²" in msg


def test_duplicate_codes_in_file_and_in_store(services, tmp_path):
    p = write_json(tmp_path / "g.geojson", fc([new_grid("D1"), new_grid("D1"), new_grid(GRIDS[0])]))
    msg = import_fails(services, p, match="problems")
    assert "duplicate code D1" in msg
    assert f"code {GRIDS[0]} is already in the store" in msg


def test_unknown_parent_and_wrong_level_parent(services, tmp_path):
    a = new_grid("E1")
    a["properties"]["parent_code"] = "999999"
    b = new_grid("E2")
    b["properties"]["parent_code"] = GRIDS[0]  # a grid cannot contain a grid
    msg = import_fails(services, write_json(tmp_path / "g.geojson", fc([a, b])))
    assert "unknown parent 999999" in msg
    assert f"parent {GRIDS[0]} is a grid, which cannot contain a grid" in msg


def test_missing_field_lists_available_ones(services, tmp_path):
    p = write_json(tmp_path / "g.geojson", fc([new_grid()]))
    import_fails(services, p, ImportSpec(Level.grid, code_field="bianma", parent_field="parent_code"),
                 match="no field --code-field 'bianma'.*its fields: code, name, parent_code")


@pytest.mark.parametrize("name,content,match", [
    ("g.gpkg", b'{"type": "FeatureCollection"}', "named as a GeoPackage but its content is not one"),
    ("g.geojson", b"code,name\n1,a\n", "named as a GeoJSON but .* looks like plain text, such as CSV"),
    ("g.geojson", b'{"type": "FeatureCollection", "features": [', "not valid GeoJSON"),
    ("g.zip", b"not a zip at all", "named as a zipped Shapefile"),
    ("g.geojson", b'{"type": "Topology"}', "not a GeoJSON FeatureCollection"),
    ("g.kml", b"<kml/>", "unknown file type"),
    ("g.geojson", b"", "is empty"),
])
def test_file_that_is_not_what_it_claims(services, tmp_path, name, content, match):
    p = tmp_path / name
    p.write_bytes(content)
    import_fails(services, p, match=match)


def test_zip_without_shapefile(services, tmp_path):
    with zipfile.ZipFile(tmp_path / "g.zip", "w") as zf:
        zf.writestr("readme.txt", "hello")
    import_fails(services, tmp_path / "g.zip", match="holds no .shp file")


def test_crs_contradicting_the_file(services, tmp_path):
    import geopandas as gpd

    gdf = gpd.GeoDataFrame({"code": ["X"], "name": ["n"], "parent_code": [ZONE]},
                           geometry=[shapely.box(116.02, 39.02, 116.04, 39.04)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "g.gpkg", driver="GPKG")
    import_fails(services, tmp_path / "g.gpkg", crs="EPSG:3857", match="declares CRS")


def test_unknown_crs(services, tmp_path):
    p = write_json(tmp_path / "g.geojson", fc([new_grid()]))
    import_fails(services, p, crs="EPSG:999999", match="unknown CRS")


def test_bad_household_counts(services, tmp_path):
    p = write_json(tmp_path / "g.geojson", fc([new_grid(households="many"), new_grid("F2", households=-3)]))
    msg = import_fails(services, p)
    assert "households must be a whole number" in msg and "'many'" in msg and "-3" in msg
