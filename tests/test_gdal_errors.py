"""Issue #15: files that GDAL cannot read give a clear Chinese-first message naming the file and the
problem, never GDAL's own text nor a server path: on the web (the 多网合一 upload), on the CLI
(`gridmap import`, `gridmap places import`), on both store backends, with nothing written."""

from __future__ import annotations

import io
import sqlite3
import warnings
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridmap import create_app
from gridmap.cli import main
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import ZONE, fc, feat, square, write_json

# what GDAL's own messages hold, that a user must not see
GDAL_TEXT = ("GDAL", "sqlite3_prepare", "sqlite_master", "vsizip", "SHAPE_RESTORE_SHX", "DRIVER", "/tmp",
             "gridmap-", "site-packages", "Traceback", "RuntimeWarning", "OGR")


def _shapefile(folder: Path) -> dict[str, bytes]:
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame({"code": ["A1"]}, geometry=[box(116, 39, 116.01, 39.01)], crs=4326).to_file(folder / "g.shp")
    return {ext: (folder / f"g{ext}").read_bytes() for ext in (".shp", ".shx", ".dbf", ".prj")}


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def broken_files(tmp: Path) -> list[tuple[Path, str]]:
    """(file, the Chinese words its message must hold), one per way a file breaks inside GDAL."""
    src = tmp / "src"
    src.mkdir()
    shp = _shapefile(src)
    import geopandas as gpd
    from shapely.geometry import box

    good_gpkg = src / "ok.gpkg"
    gpd.GeoDataFrame({"code": ["A1"]}, geometry=[box(116, 39, 116.01, 39.01)], crs=4326).to_file(good_gpkg)
    raw = good_gpkg.read_bytes()
    out = tmp / "broken"
    out.mkdir()
    cut_gpkg = out / "cut.gpkg"
    cut_gpkg.write_bytes(raw[:5000])
    plain = out / "plain.gpkg"
    con = sqlite3.connect(plain)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    noshx = {f"g{e}": shp[e] for e in (".shp", ".dbf", ".prj")}
    trunc = {**{f"g{e}": shp[e] for e in (".shx", ".dbf", ".prj")}, "g.shp": shp[".shp"][:60]}
    garbage = {**{f"g{e}": shp[e] for e in (".shx", ".dbf", ".prj")}, "g.shp": b"\x00" * 200}
    whole = _zip(out / "whole.zip", {f"g{e}": shp[e] for e in shp})
    cut_zip = out / "cut.zip"
    cut_zip.write_bytes(whole.read_bytes()[:150])
    feats = out / "features.geojson"
    feats.write_text('{"type": "FeatureCollection", "features": "none"}', encoding="utf-8")
    lone = out / "lone.shp"
    lone.write_bytes(shp[".shp"])
    return [
        (_zip(out / "noshx.zip", noshx), "缺少 g.shx"),
        (_zip(out / "nodbf.zip", {f"g{e}": shp[e] for e in (".shp", ".shx", ".prj")}), "缺少 g.dbf"),
        (_zip(out / "trunc.zip", trunc), ".shp 文件已损坏或不完整"),
        (_zip(out / "garbage.zip", garbage), "不是可读的 Shapefile 压缩包"),
        (cut_zip, "不是有效的 zip 压缩包"),
        (cut_gpkg, "GeoPackage 文件已损坏或不完整"),
        (plain, "不是 GeoPackage"),
        (feats, "features 不是要素列表"),
        (lone, "缺少索引文件 lone.shx"),
    ]


def _clean(text: str, name: str, words: str) -> None:
    text = text.split("error: ", 1)[-1]  # the CLI's line starts "错误 / error: " (zh_CN), then the message
    assert name in text and words in text, text
    assert text.index(words) < text.index(" / "), text  # Chinese first, English after
    leaked = [w for w in GDAL_TEXT if w in text]
    assert not leaked, (leaked, text)


def test_networks_upload_of_broken_files_is_422_in_plain_words(services, tmp_path):
    app = create_app(Settings(db=services.settings.db))
    try:
        store = app.extensions["gridmap"].store
        create_user(store, "plan", "secret-pass", "planner")
        h = {"Authorization": f"Bearer {create_token(store, 'plan')}"}
        ok = write_json(tmp_path / "ok.geojson", fc([feat(square(116.0, 39.0, 116.01, 39.01), beat="A1")]))
        client = app.test_client()
        for path, words in broken_files(tmp_path):
            files = {"layer": [(io.BytesIO(ok.read_bytes()), "ok.geojson"), (io.BytesIO(path.read_bytes()), path.name)],
                     "code_field": "beat", "min_layers": "1"}
            r = client.post("/api/v1/networks", data=files, headers=h, content_type="multipart/form-data")
            assert r.status_code == 422, (path.name, r.status_code, r.get_data(as_text=True)[:300])
            _clean(r.json["detail"], path.name, words)
        cut = tmp_path / "broken" / "cut.gpkg"  # the planner's proposal reads its household points the same way
        r = client.post("/api/v1/propose", data={"points": (io.BytesIO(cut.read_bytes()), "homes.gpkg"), "zone": ZONE},
                        headers=h, content_type="multipart/form-data")
        assert r.status_code == 422, r.get_data(as_text=True)[:300]
        _clean(r.json["detail"], "homes.gpkg", "GeoPackage 文件已损坏")
    finally:
        app.extensions["gridmap"].store.close()


def test_cli_import_of_broken_files_names_the_problem_and_writes_nothing(services, tmp_path):
    db = services.settings.db
    before = services.store.info().counts
    runner = CliRunner()
    for path, words in broken_files(tmp_path):
        r = runner.invoke(main, ["--db", db, "import", str(path), "--level", "grid", "--crs", "EPSG:4326"])
        assert r.exit_code == 1, (path.name, r.output)
        _clean(r.output, path.name, words)
    r = runner.invoke(main, ["--db", db, "places", "import", str(tmp_path / "broken" / "cut.gpkg")])
    assert r.exit_code == 1
    _clean(r.output, "cut.gpkg", "GeoPackage 文件已损坏")
    assert services.store.info().counts == before


def test_gdal_warnings_do_not_reach_the_user(tmp_path):
    """A feature GDAL cannot parse becomes a feature without geometry (validation names it); GDAL's
    warning, which prints the library's own source path, is logged instead of shown."""
    from gridmap.io.readers import read_table

    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "A"},'
                   ' "geometry": {"type": "Polygon", "coordinates": "x"}}]}', encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_table(bad)
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert list(table.geoms) == [None]


def test_a_missing_layer_is_named(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from gridmap.errors import InputError
    from gridmap.io.readers import read_table

    p = tmp_path / "two.gpkg"
    gdf = gpd.GeoDataFrame({"code": ["A1"]}, geometry=[box(116, 39, 116.01, 39.01)], crs=4326)
    gdf.to_file(p, layer="grids")
    with pytest.raises(InputError) as err:
        read_table(p, layer="zones")
    _clean(str(err.value), "two.gpkg", "没有图层 zones")
