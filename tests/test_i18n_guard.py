"""No new English-only message (issue #12, "Chinese first"): every text a user can read that the
code hands to an error, to click.echo / ClickException, to flash() or abort() goes through tr()/ntr()
(gridmap/i18n.py), so the catalogs translate it. An AST scan of gridmap/, with a short allow-list."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Calls whose message a user reads: gridmap's errors (HTTP bodies, the CLI's "error:" line), the
# OGC API's parameter error, click's output and errors, Flask's flash/abort.
USER_FACING = {"GridmapError", "InputError", "NotFound", "Conflict", "StoreUnavailable", "Unauthorized", "Forbidden",
               "MissingExtra", "TooLarge", "TooSlow", "Throttled", "TileSourceError", "BadParameter",
               "CoverageRefused", "StaffingRefused", "echo", "secho", "ClickException", "UsageError", "flash",
               "abort"}
# Calls that make a message from their arguments (so their literals are the msgid, or not a message)
TRANSLATING = {"tr", "ntr", "N_", "format", "join", "repr", "str", "len", "sorted", "get", "dumps"}
WORDS = re.compile(r"[A-Za-z]{2,}\W+[A-Za-z]{2,}")  # a phrase, not a code, a unit or a separator

# (module, text it starts with): why it may stay untranslated
ALLOWED: dict[tuple[str, str], str] = {}


def _name(func: ast.expr) -> str | None:
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None


def _untranslated(node: ast.AST):
    """The text of the string literals and f-strings in `node` that no translating call wraps."""
    if isinstance(node, ast.Call) and _name(node.func) in TRANSLATING:
        return
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
        return
    if isinstance(node, ast.JoinedStr):
        yield "".join(v.value for v in node.values if isinstance(v, ast.Constant))
        for v in node.values:
            if isinstance(v, ast.FormattedValue):
                yield from _untranslated(v.value)
        return
    for child in ast.iter_child_nodes(node):
        yield from _untranslated(child)


def english_only_messages(root: Path = ROOT / "gridmap") -> list[str]:
    """`path:line: call: text` for every user-facing call given an untranslated English phrase."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        module = str(path.relative_to(root.parent))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and _name(node.func) in USER_FACING):
                continue
            args = list(node.args) + [k.value for k in node.keywords if k.arg in ("message", "detail", "description")]
            for arg in args:
                for text in _untranslated(arg):
                    if WORDS.search(text) and not any(module == m and text.startswith(t) for m, t in ALLOWED):
                        found.append(f"{module}:{node.lineno}: {_name(node.func)}: {text[:80]!r}")
    return found


def test_no_user_facing_message_is_english_only():
    found = english_only_messages()
    assert found == [], ("wrap these in tr() (gridmap/i18n.py) and add their zh_CN msgstr (README, Languages):\n"
                         + "\n".join(found))


def test_the_scan_finds_an_english_only_message(tmp_path):
    """The guard itself: the shapes of message it must catch, and the ones it must let through."""
    pkg = tmp_path / "gridmap"
    pkg.mkdir()
    (pkg / "bad.py").write_text(
        "import click\n"
        "from .errors import InputError, Forbidden\n"
        "from .i18n import tr\n"
        "def f(x, n):\n"
        "    raise InputError(f'grid {x} is not in the plan')\n"
        "def g(x):\n"
        "    click.echo('wrote ' + str(x) + ' rows to the file')\n"
        "def h(x):\n"
        "    raise Forbidden('事件 不在您的网格 / incident is not in your grids')\n"
        "def ok(x, n):\n"
        "    raise InputError(tr('grid %(x)s is not in the plan', x=x))\n"
        "def ok2(x):\n"
        "    click.echo(f'{x:>8} {x}')\n"
        "    click.echo(tr('wrote %(n)s rows', n=x) + ' ' + ', '.join(['a b', 'c d']))\n",
        encoding="utf-8")
    found = english_only_messages(pkg)
    lines = sorted(int(f.split(":")[1]) for f in found)
    assert lines == [5, 7, 9], found
