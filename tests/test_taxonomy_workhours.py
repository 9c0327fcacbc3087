"""The incident taxonomy (categories.toml) and the working-hours calendar for time limits."""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gridmap.errors import InputError
from gridmap.i18n import reset_locale, use_locale
from gridmap.incidents.taxonomy import Category, Taxonomy
from gridmap.incidents.workhours import WorkCalendar, deadline


@pytest.fixture(autouse=True)
def _english():
    """These tests compare the problems' English texts (their zh_CN rendering: tests/test_i18n.py)."""
    token = use_locale("en")
    yield
    reset_locale(token)

SH = ZoneInfo("Asia/Shanghai")
DEMO_CODES = {
    "exposed_rubbish", "illegal_advert", "construction_dust", "street_vending", "illegal_parking",
    "waterlogging", "road_collapse", "manhole_cover", "street_light", "trash_bin", "epidemic_control",
    "production_safety", "petition_stability", "ecology_environment", "risk_screening",
}
GOOD = """
[[category]]
code = "exposed_rubbish"
name = "暴露垃圾"
group = "市容环境"
kind = "event"
level = "grid"
time_limit_hours = 4
department = "城管局"
duplicate_radius_m = 50
duplicate_window_hours = 72
"""


def at(text: str) -> dt.datetime:
    """A Shanghai wall-clock time, e.g. at("2026-01-09 16:00")."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


def load_text(tmp_path: Path, text: str) -> Taxonomy:
    path = tmp_path / "categories.toml"
    path.write_text(text, encoding="utf-8")
    return Taxonomy.load(path)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        load_text(tmp_path, text)
    assert str(tmp_path / "categories.toml") in str(info.value)
    return info.value.problems


# ---------------------------------------------------------------- taxonomy: the default file

def test_default_taxonomy_loads_with_demo_codes():
    tax = Taxonomy.load()
    assert 25 <= len(tax) <= 35
    assert DEMO_CODES <= set(tax.codes())
    assert tax.get("exposed_rubbish").name == "暴露垃圾"
    assert tax.get("exposed_rubbish").time_limit_hours == 4
    assert tax.get("manhole_cover").is_component and tax.get("street_light").is_component
    assert tax.get("trash_bin").kind == "component"


def test_default_taxonomy_covers_the_demo_incidents():
    path = Path(__file__).resolve().parent.parent / "geodata" / "incidents.csv"
    if not path.exists():
        pytest.skip("no demo incidents")
    with open(path, encoding="utf-8") as fh:
        used = {row["category"] for row in csv.DictReader(fh)}
    assert used <= set(Taxonomy.load().codes())


def test_default_taxonomy_rules():
    tax = Taxonomy.load()
    for category in tax:
        if category.is_component or "department" in (category.level, category.severe_level):
            assert category.department, category.code
    groups = tax.groups()
    for group in ("市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "公用设施", "道路交通", "市容环卫",
                  "园林绿化", "疫情防控", "安全生产", "信访稳定", "生态环境", "风险排查"):
        assert groups.get(group), group
    assert sum(len(members) for members in groups.values()) == len(tax)
    collapse = tax.get("road_collapse")
    assert (collapse.level, collapse.department, collapse.time_mode) == ("department", "住建局", "calendar")
    assert tax.get("petition_stability").level == "zone"
    assert tax.get("exposed_rubbish").level_for(1) == "grid"
    assert tax.get("exposed_rubbish").level_for(3) == "zone"


def test_taxonomy_container_protocol():
    tax = Taxonomy.load()
    assert "street_vending" in tax and "nope" not in tax and 42 not in tax
    assert tax.get("street_vending") in tax
    assert [c.code for c in tax] == tax.codes()


def test_unknown_code_lists_valid_codes():
    tax = Taxonomy.load()
    with pytest.raises(InputError, match=r"unknown category 'exposed_rubish'; did you mean 'exposed_rubbish'"):
        tax.get("exposed_rubish")
    with pytest.raises(InputError, match=r"unknown category 'zzz'; known codes include exposed_rubbish, "):
        tax.get("zzz")


# ---------------------------------------------------------------- taxonomy: validation

def test_custom_file_loads_with_defaults(tmp_path):
    tax = load_text(tmp_path, GOOD)
    only = tax.get("exposed_rubbish")
    assert only == Category("exposed_rubbish", "暴露垃圾", "市容环境", "event", "grid", 4.0, 50.0, 72.0,
                            department="城管局", severe_level="zone", time_mode="working")
    assert len(tax) == 1 and tax.source == str(tmp_path / "categories.toml")


def test_unknown_and_missing_keys(tmp_path):
    text = GOOD.replace('level = "grid"', 'levle = "grid"').replace("duplicate_radius_m = 50\n", "")
    problems = problems_of(tmp_path, text)
    assert "category #1 (exposed_rubbish): unknown key 'levle'" in problems
    assert "category #1 (exposed_rubbish): missing required key 'level'" in problems
    assert "category #1 (exposed_rubbish): missing required key 'duplicate_radius_m'" in problems


@pytest.mark.parametrize("old, new, expected", [
    ('level = "grid"', 'level = "county"', "level 'county' must be one of grid, zone, department"),
    ('kind = "event"', 'kind = "thing"', "kind 'thing' must be one of event, component"),
    ('level = "grid"', 'level = "grid"\nsevere_level = "town"', "severe_level 'town' must be one of"),
    ('level = "grid"', 'level = "grid"\ntime_mode = "24x7"', "time_mode '24x7' must be one of working, calendar"),
    ("time_limit_hours = 4", "time_limit_hours = 0", "time_limit_hours must be a positive number"),
    ("time_limit_hours = 4", 'time_limit_hours = "4"', "time_limit_hours must be a number"),
    ("duplicate_radius_m = 50", "duplicate_radius_m = -5", "duplicate_radius_m must be a positive number"),
    ("duplicate_window_hours = 72", "duplicate_window_hours = 0.0", "duplicate_window_hours must be a positive"),
    ('name = "暴露垃圾"', 'name = ""', "name must be a non-empty string"),
])
def test_bad_values(tmp_path, old, new, expected):
    assert old in GOOD
    problems = problems_of(tmp_path, GOOD.replace(old, new))
    assert len(problems) == 1 and problems[0].startswith("category #1 (exposed_rubbish): ")
    assert expected in problems[0]


def test_bad_code(tmp_path):
    problems = problems_of(tmp_path, GOOD.replace('"exposed_rubbish"', '"Exposed-Rubbish"'))
    assert problems == ["category #1 (Exposed-Rubbish): code 'Exposed-Rubbish' must be ascii snake_case "
                        "(e.g. exposed_rubbish)"]


def test_department_required(tmp_path):
    no_dept = GOOD.replace('department = "城管局"\n', "")
    load_text(tmp_path, no_dept)  # a grid-level event needs none
    for old, new in [('kind = "event"', 'kind = "component"'), ('level = "grid"', 'level = "department"'),
                     ('level = "grid"', 'level = "grid"\nsevere_level = "department"')]:
        problems = problems_of(tmp_path, no_dept.replace(old, new))
        assert len(problems) == 1 and "department is required" in problems[0], problems


def test_severe_level_never_below_level(tmp_path):
    text = GOOD.replace('level = "grid"', 'level = "department"\nsevere_level = "zone"')
    assert "severe_level 'zone' is below level 'department'" in problems_of(tmp_path, text)[0]
    dept = load_text(tmp_path, GOOD.replace('level = "grid"', 'level = "department"'))
    assert dept.get("exposed_rubbish").severe_level == "department"  # the default never de-escalates


def test_every_problem_reported_at_once(tmp_path):
    second = GOOD.replace('kind = "event"', 'kind = "component"').replace('department = "城管局"\n', "")
    third = GOOD.replace('"exposed_rubbish"', '"street_light"').replace("time_limit_hours = 4", "time_limit_hours = -1")
    problems = problems_of(tmp_path, "extra = 1\n" + GOOD + second + third)
    assert "unknown top-level key 'extra' (expected only [[category]] tables)" in problems
    assert "category #2 (exposed_rubbish): department is required for a component " \
           "(部件 route to their owner department first)" in problems
    assert "category #3 (street_light): time_limit_hours must be a positive number, got -1.0" in problems
    assert len(problems) == 3


def test_duplicate_codes(tmp_path):
    problems = problems_of(tmp_path, GOOD + GOOD)
    assert problems == ["category #2 (exposed_rubbish): duplicate code 'exposed_rubbish'"]


def test_empty_bad_toml_and_missing_file(tmp_path):
    assert problems_of(tmp_path, "# nothing\n") == ["no categories: the file needs at least one [[category]] table"]
    with pytest.raises(InputError, match="is not valid TOML"):
        load_text(tmp_path, "[[category]\n")
    with pytest.raises(InputError, match="does not exist"):
        Taxonomy.load(tmp_path / "missing.toml")


# ---------------------------------------------------------------- working hours: hand-computed examples

CAL = WorkCalendar()  # Asia/Shanghai, 08:30-12:00 + 13:30-17:30 (7.5 h), Monday-Friday


def test_friday_afternoon_runs_into_monday():
    # 2026-01-09 is a Friday. Fri 16:00-17:30 = 1.5 h, 2.5 h left; Mon 2026-01-12 08:30 + 2.5 h = 11:00.
    due = CAL.add_working_hours(at("2026-01-09 16:00"), 4)
    assert due == at("2026-01-12 11:00") and due.tzinfo == SH
    assert CAL.working_hours_between(at("2026-01-09 16:00"), due) == 4.0


def test_lunch_break_and_evening_start_at_next_working_moment():
    # 12:30 is lunch: the clock starts at 13:30, so 1 h later is 14:30.
    assert CAL.add_working_hours(at("2026-01-07 12:30"), 1) == at("2026-01-07 14:30")
    # 3.5 h from 10:00: 10:00-12:00 = 2 h, then 13:30 + 1.5 h = 15:00.
    assert CAL.add_working_hours(at("2026-01-07 10:00"), 3.5) == at("2026-01-07 15:00")
    # Saturday night: the clock starts on Monday 08:30.
    assert CAL.add_working_hours(at("2026-01-10 22:00"), 0.5) == at("2026-01-12 09:00")
    assert CAL.next_working_moment(at("2026-01-07 12:30")) == at("2026-01-07 13:30")
    # Exactly filling a period ends at its end, not at the next period's start.
    assert CAL.add_working_hours(at("2026-01-07 08:30"), 3.5) == at("2026-01-07 12:00")
    assert CAL.add_working_hours(at("2026-01-07 08:30"), 7.5) == at("2026-01-07 17:30")


def test_start_in_another_time_zone():
    # 08:00 UTC = 16:00 in Shanghai on Friday 2026-01-09: same as the Friday example.
    due = CAL.add_working_hours(dt.datetime(2026, 1, 9, 8, 0, tzinfo=dt.timezone.utc), 4)
    assert due == at("2026-01-12 11:00") and due.utcoffset() == dt.timedelta(hours=8)


def test_is_working():
    assert CAL.is_working(at("2026-01-07 08:30"))
    assert CAL.is_working(at("2026-01-07 11:59:59"))
    assert not CAL.is_working(at("2026-01-07 12:00"))
    assert not CAL.is_working(at("2026-01-07 12:30"))
    assert not CAL.is_working(at("2026-01-07 17:30"))
    assert not CAL.is_working(at("2026-01-10 10:00"))  # Saturday


def test_national_day_holidays_and_makeup_sunday():
    cal = WorkCalendar.from_settings(holidays=["2026-10-01..2026-10-07"], workdays="2026-09-20")
    assert len(cal.holidays) == 7 and cal.workdays == {dt.date(2026, 9, 20)}
    # Wed 2026-09-30 16:00-17:30 = 1.5 h; Oct 1-7 off; Thu 2026-10-08 08:30 + 2.5 h = 11:00.
    assert cal.add_working_hours(at("2026-09-30 16:00"), 4) == at("2026-10-08 11:00")
    assert cal.working_hours_between(at("2026-09-30 00:00"), at("2026-10-08 00:00")) == 7.5
    # Fri 2026-09-18 17:00-17:30 = 0.5 h; Sat off; makeup Sunday 2026-09-20 08:30 + 0.5 h = 09:00.
    assert cal.add_working_hours(at("2026-09-18 17:00"), 1) == at("2026-09-20 09:00")
    assert cal.is_working(at("2026-09-20 10:00")) and not cal.is_working(at("2026-10-05 10:00"))
    # Without the calendar adjustments: Monday 2026-09-21 09:00 and Friday 2026-10-02 11:00.
    assert CAL.add_working_hours(at("2026-09-18 17:00"), 1) == at("2026-09-21 09:00")
    assert CAL.add_working_hours(at("2026-09-30 16:00"), 4) == at("2026-10-01 11:00")


def test_300_working_hours_skip_whole_days():
    # 300 h / 7.5 h = 40 working days = 8 full Mon-Fri weeks from Monday 2026-01-05 08:30,
    # so it ends when the 40th working day ends: Friday 2026-02-27 17:30 (5 Jan + 53 days).
    due = CAL.add_working_hours(at("2026-01-05 08:30"), 300)
    assert due == at("2026-02-27 17:30")
    assert CAL.working_hours_between(at("2026-01-05 08:30"), due) == 300.0
    # One second more spills into Monday 2026-03-02 08:30:01.
    assert CAL.add_working_hours(at("2026-01-05 08:30"), 300 + 1 / 3600) == at("2026-03-02 08:30:01")


def test_working_hours_between_is_the_inverse_of_add():
    rng = random.Random(20260109)
    cal = WorkCalendar.from_settings(holidays="2026-05-01..2026-05-05,2026-10-01..2026-10-07",
                                     workdays=["2026-04-26", "2026-05-09", "2026-09-20", "2026-10-10"])
    for _ in range(300):
        start = at("2026-01-01 00:00") + dt.timedelta(seconds=rng.randrange(365 * 86400))
        hours = rng.randrange(0, 200 * 3600) / 3600  # whole seconds, up to 200 h
        due = cal.add_working_hours(start, hours)
        assert due >= start
        assert abs(cal.working_hours_between(start, due) - hours) * 3600 < 1e-6
        assert cal.working_hours_between(due, start) == 0.0


def test_add_matches_a_minute_by_minute_reference():
    rng = random.Random(7)
    for _ in range(40):
        start = at("2026-01-01 00:00") + dt.timedelta(minutes=rng.randrange(60 * 24 * 60))
        minutes = rng.randrange(1, 20 * 60)
        assert CAL.add_working_hours(start, minutes / 60) == _reference(start, minutes)


def _reference(start: dt.datetime, minutes: int) -> dt.datetime:
    """Step minute by minute: each working minute [t, t+1) counts."""
    t = start
    while minutes:
        if CAL.is_working(t):
            minutes -= 1
        t += dt.timedelta(minutes=1)
    return t


def test_calendar_mode_counts_plain_hours():
    # Friday 16:00 + 4 plain hours = Friday 20:00; + 72 h = Monday 16:00.
    assert deadline(at("2026-01-09 16:00"), 4, "calendar") == at("2026-01-09 20:00")
    assert CAL.deadline(at("2026-01-09 16:00"), 72, mode="calendar") == at("2026-01-12 16:00")
    assert deadline(at("2026-01-09 16:00"), 4) == at("2026-01-12 11:00")
    assert CAL.elapsed_hours(at("2026-01-09 16:00"), at("2026-01-12 11:00"), "calendar") == 67.0
    assert CAL.elapsed_hours(at("2026-01-09 16:00"), at("2026-01-12 11:00")) == 4.0
    with pytest.raises(ValueError, match="mode must be one of working, calendar"):
        deadline(at("2026-01-09 16:00"), 4, "weekly")


def test_calendar_mode_across_a_dst_change():
    # Berlin springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST): 24 real hours after
    # Saturday 12:00 CET is Sunday 13:00 CEST by the wall clock.
    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkCalendar(tz="Europe/Berlin")
    due = cal.deadline(dt.datetime(2026, 3, 28, 12, 0, tzinfo=berlin), 24, mode="calendar")
    assert due.replace(tzinfo=None) == dt.datetime(2026, 3, 29, 13, 0)
    # Working hours are wall-clock periods: Fri 27 Mar 17:00 + 1 h = Mon 30 Mar 09:00 (after the change).
    due = cal.add_working_hours(dt.datetime(2026, 3, 27, 17, 0, tzinfo=berlin), 1)
    assert due.replace(tzinfo=None) == dt.datetime(2026, 3, 30, 9, 0)


def test_naive_and_bad_arguments_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_hours(dt.datetime(2026, 1, 9, 16, 0), 4)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_hours_between(at("2026-01-09 16:00"), dt.datetime(2026, 1, 12))
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.is_working(dt.datetime(2026, 1, 9, 16, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(dt.datetime(2026, 1, 9, 16, 0), 4, "calendar")
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add_working_hours(at("2026-01-09 16:00"), -1)
    with pytest.raises(ValueError, match=">= 0"):
        CAL.add_working_hours(at("2026-01-09 16:00"), float("nan"))


def test_custom_periods_and_weekdays():
    # Six-day week with a single 09:00-17:00 period: Sat 2026-01-10 16:00 + 2 h = Mon 2026-01-12 10:00.
    cal = WorkCalendar.from_settings(periods="09:00-17:00", weekdays="1-6")
    assert cal.add_working_hours(at("2026-01-10 16:00"), 2) == at("2026-01-12 10:00")
    assert cal.weekdays == {1, 2, 3, 4, 5, 6}


def test_bad_calendar_settings_listed_together():
    with pytest.raises(InputError) as info:
        WorkCalendar.from_settings(periods="08:30-12:00,1330-", weekdays="1-x",
                                   holidays=["2026-13-01"], workdays="2026-10-07..2026-10-01")
    assert info.value.problems == [
        "periods: '1330-' is not HH:MM-HH:MM",
        "weekdays: '1-x' is not an ISO weekday 1-7 or a range such as 1-5",
        "holidays: '2026-13-01' is not an ISO date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)",
        "workdays: range '2026-10-07..2026-10-01' ends before it starts",
    ]
    with pytest.raises(InputError) as info:
        WorkCalendar.from_settings(tz="Mars/Olympus", periods="08:30-12:00,11:00-17:30,18:00-17:00",
                                   weekdays="0-8", holidays="2026-10-01", workdays="2026-10-01")
    assert len(info.value.problems) == 5, info.value.problems
