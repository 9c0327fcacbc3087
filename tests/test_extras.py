"""The heavy optional parts (gridmap[dask], gridmap[spopt]) name their extra when it is missing."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from gridmap.analysis.propose import propose
from gridmap.cli import main as cli_main
from gridmap.errors import MissingExtra
from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import sample_store
from .test_propose import L_ZONE, points_in


def test_spopt_method_without_spopt_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "spopt", None)  # what an install without gridmap[spopt] looks like
    with pytest.raises(MissingExtra, match=r"pip install 'gridmap\[spopt\]'") as err:
        propose(L_ZONE, points_in(L_ZONE.geometry, 40, seed=1), grids=2, method="skater")
    assert err.value.http_status == 501 and "需要可选组件" in str(err.value)


def test_own_method_needs_no_extra(monkeypatch):
    for name in ("spopt", "libpysal", "dask", "distributed", "dask_geopandas"):
        monkeypatch.setitem(sys.modules, name, None)
    prop = propose(L_ZONE, points_in(L_ZONE.geometry, 60, seed=1), households=(10, 30))
    assert prop.units and sum(u.households for u in prop.units) == 60


def test_dask_engine_without_dask_names_the_extra(monkeypatch, tmp_path, sample_dir):
    db = tmp_path / "g.db"
    s = Services.open(sample_store(Settings(db=str(db)), sample_dir), create=True)
    s.store.close()
    monkeypatch.setitem(sys.modules, "distributed", None)
    (tmp_path / "in").mkdir()
    r = CliRunner().invoke(cli_main, ["--db", str(db), "assign", str(tmp_path / "in"), "--out",
                                      str(tmp_path / "out"), "--engine", "dask"])
    assert r.exit_code == 2, r.output
    assert "pip install 'gridmap[dask]'" in r.output and "Traceback" not in r.output
