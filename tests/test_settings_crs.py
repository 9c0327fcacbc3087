"""Settings are declared and documented; CRS parsing and the Chinese offsets."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from gridmap.errors import InputError
from gridmap.geo import chinacrs
from gridmap.geo.crs import area_perimeter_m, parse_crs, xy_to_storage
from gridmap.settings import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    for f in fields(Settings):
        assert re.search(rf"\b{f.name}\b", text), f"setting {f.name} missing from README"
        assert f"GRIDMAP_{f.name.upper()}" in text


def test_layers_and_unknown_keys(tmp_path):
    cfg = tmp_path / "gridmap.toml"
    cfg.write_text('db = "a.db"\nnearest_max_m = 250\n')
    s = Settings.load(config=cfg, environ={"GRIDMAP_PORT": "8080"})
    assert (s.db, s.nearest_max_m, s.port) == ("a.db", 250.0, 8080)
    assert Settings.load({"db": "b.db"}, config=cfg, environ={}).db == "b.db"
    with pytest.raises(InputError, match="unknown setting GRIDMAP_COLOUR"):
        Settings.load(environ={"GRIDMAP_COLOUR": "red"})
    cfg.write_text("colour = 1\n")
    with pytest.raises(InputError, match="unknown setting"):
        Settings.load(config=cfg, environ={})
    with pytest.raises(InputError, match="must be a int"):
        Settings.load(environ={"GRIDMAP_PORT": "x"})


def test_gcj02_and_bd09_match_an_independent_implementation():
    prcoords = pytest.importorskip("prcoords")
    rng = np.random.default_rng(1)
    for lon, lat in rng.uniform([74, 18], [134, 53], size=(200, 2)):
        g = prcoords.wgs_gcj(prcoords.Coords(lat, lon))
        b = prcoords.wgs_bd(prcoords.Coords(lat, lon))
        assert np.allclose(chinacrs.wgs84_to_gcj02(lon, lat), (g.lon, g.lat), atol=1e-9)
        assert np.allclose(chinacrs.wgs84_to_bd09(lon, lat), (b.lon, b.lat), atol=1e-9)


def test_inverse_offsets_round_trip_to_a_millimetre():
    rng = np.random.default_rng(2)
    lon, lat = rng.uniform(74, 134, 1000), rng.uniform(18, 53, 1000)
    back = chinacrs.gcj02_to_wgs84(*chinacrs.wgs84_to_gcj02(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-8 and np.abs(back[1] - lat).max() < 1e-8
    back = chinacrs.bd09_to_wgs84(*chinacrs.wgs84_to_bd09(lon, lat))
    assert np.abs(back[0] - lon).max() < 1e-8 and np.abs(back[1] - lat).max() < 1e-8
    # outside China there is no offset
    assert chinacrs.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)


@pytest.mark.parametrize("text,special", [("GCJ-02", "GCJ-02"), ("gcj02", "GCJ-02"), ("BD-09", "BD-09"), ("bd09", "BD-09")])
def test_parse_special(text, special):
    assert parse_crs(text).special == special


def test_projected_to_storage_cgcs2000_gauss_kruger():
    # EPSG:4548 = CGCS2000 / 3-degree Gauss-Kruger CM 117E; false easting 500 km
    lon, lat = xy_to_storage(np.array([500000.0]), np.array([4318000.0]), parse_crs("EPSG:4548"))
    assert abs(lon[0] - 117.0) < 1e-9 and 38.9 < lat[0] < 39.1


def test_area_is_geodesic_metres():
    from shapely import box

    area, perim = area_perimeter_m(box(116.0, 39.0, 116.01, 39.01))
    assert 960_000 < area < 962_000  # ~865 m x 1111 m
    assert 3_900 < perim < 4_000


def test_unknown_crs_message():
    with pytest.raises(InputError, match="unknown CRS 'WGS-85'"):
        parse_crs("WGS-85")
