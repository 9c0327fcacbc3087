"""The incident taxonomy (事件分类): categories, handling levels and time limits, read from TOML.

The default taxonomy ships as gridmap/incidents/categories.toml; a deployment may load its own
file instead. Every problem in a file is reported at once, each naming the category it concerns.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from ..errors import InputError
from ..i18n import tr

KINDS = ("event", "component")  # 事件 / 部件
LEVELS = ("grid", "zone", "department")  # ascending: 小事不出村、大事不出管区
TIME_MODES = ("working", "calendar")  # working hours, or round-the-clock hours (emergencies)
SEVERE = 3  # a report of this severity or more is handled at the category's severe_level

_CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
_STRINGS = ("code", "name", "group", "kind", "level", "department", "severe_level", "time_mode", "description")
_NUMBERS = ("time_limit_hours", "duplicate_radius_m", "duplicate_window_hours")
REQUIRED = ("code", "name", "group", "kind", "level", "time_limit_hours", "duplicate_radius_m",
            "duplicate_window_hours")
OPTIONAL = ("department", "severe_level", "time_mode", "description")


@dataclass(frozen=True)
class Category:
    """One incident category: how it is routed, how long it may take, how duplicates are found."""

    code: str
    name: str
    group: str
    kind: str  # event | component
    level: str  # grid | zone | department
    time_limit_hours: float
    duplicate_radius_m: float
    duplicate_window_hours: float
    department: str | None = None
    severe_level: str = "zone"
    time_mode: str = "working"  # working | calendar
    description: str = ""

    def __post_init__(self) -> None:
        problems = _value_problems(self.__dict__)
        if problems:
            raise InputError(tr("invalid category %(code)r", code=self.code), problems=problems)

    @property
    def is_component(self) -> bool:
        """True for a component (部件): a piece of public property with an owner department."""
        return self.kind == "component"

    def level_for(self, severity: int) -> str:
        """The handling level for a report of this severity (severe reports escalate)."""
        return self.severe_level if severity >= SEVERE else self.level


class Taxonomy:
    """An ordered, read-only collection of categories keyed by code."""

    def __init__(self, categories: Iterable[Category], source: str = "<memory>"):
        self.source = source
        self._by_code: dict[str, Category] = {}
        for category in categories:
            if category.code in self._by_code:
                raise InputError(tr("duplicate category code %(code)r in %(source)s", code=category.code, source=source))
            self._by_code[category.code] = category

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Read a taxonomy file; None reads the packaged default (categories.toml)."""
        if path is None:
            resource = resources.files("gridmap.incidents") / "categories.toml"
            return cls.from_toml(resource.read_text(encoding="utf-8"), source=str(resource))
        path = Path(path)
        if not path.is_file():
            raise InputError(tr("taxonomy file %(path)s does not exist", path=path))
        return cls.from_toml(path.read_text(encoding="utf-8"), source=str(path))

    @classmethod
    def from_toml(cls, text: str, source: str = "<string>") -> Taxonomy:
        """Parse TOML text holding [[category]] tables."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(tr("%(source)s is not valid TOML: %(exc)s", source=source, exc=exc)) from None
        return cls.from_dict(data, source)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "<dict>") -> Taxonomy:
        """Build from parsed TOML ({"category": [...]}); raise one InputError listing every problem."""
        problems = [f"unknown top-level key {key!r} (expected only [[category]] tables)"
                    for key in data if key != "category"]
        raw = data.get("category")
        if not isinstance(raw, list) or not raw:
            problems.append(tr("no categories: the file needs at least one [[category]] table"))
            raw = []
        categories, seen = [], set()
        for index, entry in enumerate(raw, start=1):
            category, found = _parse_category(entry, index)
            problems += found
            if category is not None and category.code in seen:
                problems.append(tr("%(index)s: duplicate code %(code)r", index=_where(entry, index), code=category.code))
            elif category is not None:
                seen.add(category.code)
                categories.append(category)
        if problems:
            raise InputError(tr("%(source)s: %(problems)s problem(s) in the incident taxonomy", source=source, problems=len(problems)), problems=problems)
        return cls(categories, source)

    def get(self, code: str) -> Category:
        """The category with this code; InputError naming some valid codes if there is none."""
        category = self._by_code.get(code) if isinstance(code, str) else None
        if category is None:
            raise InputError(tr("unknown category %(code)r; %(code2)s", code=code, code2=self._hint(code)))
        return category

    def codes(self) -> list[str]:
        """All category codes in file order."""
        return list(self._by_code)

    def groups(self) -> dict[str, tuple[Category, ...]]:
        """Categories by group name, groups and members in file order."""
        out: dict[str, list[Category]] = {}
        for category in self._by_code.values():
            out.setdefault(category.group, []).append(category)
        return {group: tuple(members) for group, members in out.items()}

    def __contains__(self, item: object) -> bool:
        if isinstance(item, Category):
            return self._by_code.get(item.code) == item
        return isinstance(item, str) and item in self._by_code

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def __repr__(self) -> str:
        return f"Taxonomy({len(self)} categories from {self.source})"

    def _hint(self, code: object) -> str:
        codes = list(self._by_code)
        close = difflib.get_close_matches(str(code), codes, n=3, cutoff=0.6)
        shown = close + [c for c in codes if c not in close][: max(0, 8 - len(close))]
        prefix = f"did you mean {' or '.join(map(repr, close))}? " if close else ""
        return f"{prefix}known codes include {', '.join(shown)} ({len(codes)} in all)"


def _where(entry: object, index: int) -> str:
    code = entry.get("code") if isinstance(entry, dict) else None
    return f"category #{index} ({code})" if isinstance(code, str) and code else f"category #{index}"


def _parse_category(entry: object, index: int) -> tuple[Category | None, list[str]]:
    """Check one [[category]] table; return the Category (None if invalid) and its problems."""
    where = _where(entry, index)
    if not isinstance(entry, dict):
        return None, [f"{where}: expected a table, got {type(entry).__name__}"]
    problems = [f"unknown key {key!r}" for key in entry if key not in REQUIRED + OPTIONAL]
    problems += [f"missing required key {key!r}" for key in REQUIRED if key not in entry]
    problems += _type_problems(entry)
    if not problems:
        problems = _value_problems(_with_defaults(entry))
    if problems:
        return None, [f"{where}: {p}" for p in problems]
    return Category(**_with_defaults(entry)), []


def _type_problems(entry: Mapping[str, Any]) -> list[str]:
    problems = []
    for key in _STRINGS:
        if key in entry and (not isinstance(entry[key], str) or not entry[key].strip()) and key != "description":
            problems.append(tr("%(key)s must be a non-empty string, got %(key2)r", key=key, key2=entry[key]))
    if "description" in entry and not isinstance(entry["description"], str):
        problems.append(tr("description must be a string, got %(description)r", description=entry['description']))
    for key in _NUMBERS:
        value = entry.get(key)
        if key in entry and (isinstance(value, bool) or not isinstance(value, (int, float))):
            problems.append(tr("%(key)s must be a number, got %(value)r", key=key, value=value))
    return problems


def _with_defaults(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Fill optional keys; severe_level defaults to 'zone', or 'department' for department-level ones."""
    values = dict(entry)
    values.setdefault("severe_level", "department" if values.get("level") == "department" else "zone")
    values.setdefault("time_mode", "working")
    values.setdefault("description", "")
    values.setdefault("department", None)
    for key in _NUMBERS:
        values[key] = float(values[key])
    return values


def _value_problems(v: Mapping[str, Any]) -> list[str]:
    """Semantic checks on a complete set of well-typed values."""
    problems = []
    if not _CODE.match(v["code"]):
        problems.append(tr("code %(code)r must be ascii snake_case (e.g. exposed_rubbish)", code=v['code']))
    for key, allowed in (("kind", KINDS), ("level", LEVELS), ("severe_level", LEVELS), ("time_mode", TIME_MODES)):
        if v[key] not in allowed:
            problems.append(tr("%(key)s %(key2)r must be one of %(allowed)s", key=key, key2=v[key], allowed=', '.join(allowed)))
    for key in _NUMBERS:
        if not v[key] > 0 or v[key] == float("inf"):
            problems.append(tr("%(key)s must be a positive number, got %(key2)r", key=key, key2=v[key]))
    if v["level"] in LEVELS and v["severe_level"] in LEVELS \
            and LEVELS.index(v["severe_level"]) < LEVELS.index(v["level"]):
        problems.append(tr("severe_level %(severe_level)r is below level %(level)r: severe reports escalate", severe_level=v['severe_level'], level=v['level']))
    if not v["department"]:
        problems += _department_problems(v)
    return problems


def _department_problems(v: Mapping[str, Any]) -> list[str]:
    if v["kind"] == "component":
        return ["department is required for a component (部件 route to their owner department first)"]
    if "department" in (v["level"], v["severe_level"]):
        return ["department is required when level or severe_level is 'department'"]
    return []
