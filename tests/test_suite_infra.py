"""The test suite's own shortcuts keep what they stand in for: a copied template store equals one
built by the same calls, memoised password hashing still refuses a wrong password, and the slow
guard stops an unmarked test before it starts a second Python."""

from __future__ import annotations

import subprocess
import sys

import pytest

from gridmap import accounts
from gridmap.services import Services
from gridmap.settings import Settings
from gridmap.web import auth

from .conftest import load_sample


def _content(s: Services) -> tuple:
    units = sorted((u.code, u.level.value, u.parent_code, u.name, u.geometry.wkb_hex, str(u.valid_from))
                   for u in s.store.units())
    return units, sorted(map(repr, s.store.people())), sorted(map(repr, s.store.roles()))


def test_sample_template_copy_equals_a_fresh_build(services, tmp_path, sample_dir):
    fresh = Services.open(Settings(db=str(tmp_path / "fresh.db")), create=True)
    try:
        load_sample(fresh, sample_dir)
        units, people, roles = _content(fresh)
        assert len(units) == 6 and len(people) == 8 and len(roles) == 9
        assert _content(services) == (units, people, roles)
    finally:
        fresh.store.close()


def test_a_changed_sample_gets_a_template_of_its_own(tmp_path, sample_dir):
    """sample_app (and the services fixture) copy a template keyed by the sample files' digest: a test
    that rewrote a file gets a store of what it wrote, the plain sample stays the plain sample."""
    from .conftest import COUNTY, sample_app, sample_kind

    plain = sample_kind(sample_dir)
    first = sample_app(tmp_path, sample_dir, name="plain.db")
    text = (sample_dir / "county.geojson").read_text(encoding="utf-8")
    (sample_dir / "county.geojson").write_text(text.replace("东城区", "西城区"), encoding="utf-8")
    assert sample_kind(sample_dir) != plain
    second = sample_app(tmp_path, sample_dir, name="changed.db")
    try:
        names = [app.extensions["gridmap"].store.unit(COUNTY).name for app in (first, second)]
        assert names == ["东城区", "西城区"]
    finally:
        for app in (first, second):
            app.extensions["gridmap"].store.close()


def test_empty_template_copy_is_migrated_and_empty(empty_services):
    from gridmap.store.base import HEAD_REVISION

    assert list(empty_services.store.units()) == [] and empty_services.store._revision() == HEAD_REVISION


def test_memoised_hashing_is_real_scrypt_and_refuses_a_wrong_password():
    from werkzeug.security import check_password_hash

    h = accounts.generate_password_hash("password123")
    assert h.startswith("scrypt:") and check_password_hash(h, "password123")  # werkzeug's own check
    assert auth.check_password_hash(h, "password123") and not auth.check_password_hash(h, "password124")
    assert accounts.generate_password_hash("another-pw-1") != h


def test_slow_guard_stops_an_unmarked_test_before_it_starts_python(tmp_path):
    flag = tmp_path / "ran"
    with pytest.raises(pytest.fail.Exception, match="mark it @pytest.mark.slow"):
        subprocess.run([sys.executable, "-c", f"open({str(flag)!r}, 'w')"], timeout=60)
    assert not flag.exists()
