"""The shape of the code (issue #11): no import cycle between gridmap modules, no private name imported
from another module, no module over 400 lines, and the README's Layout names folders that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "gridmap"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for p in PKG.rglob("*.py"):
        if "migrations" in p.parts or "__pycache__" in p.parts:
            continue
        rel = p.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def _top_level_imports(path: Path, name: str, modules: dict[str, Path]):
    """(target module, imported names) of the imports run when the module loads (not in functions, not TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def walk(body):
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, (ast.If, ast.Try)):
                yield from walk(node.body)
                yield from walk(getattr(node, "orelse", []))
                for h in getattr(node, "handlers", []):
                    yield from walk(h.body)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith("gridmap"):
                        yield a.name, []
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if not target.startswith("gridmap"):
                    continue
                names = [a.name for a in node.names]
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
                rest = [n for n in names if f"{target}.{n}" not in modules]
                for s in subs:
                    yield s, []
                if rest or not subs:
                    yield target, rest

    yield from walk(tree.body)


def test_no_import_cycle_between_gridmap_modules():
    modules = _modules()
    graph = {m: sorted({t for t, _ in _top_level_imports(p, m, modules) if t in modules and t != m})
             for m, p in modules.items()}
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def strong(v):  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            strong(v)
    assert cycles == [], f"import cycles: {cycles}"


def test_no_private_name_is_imported_from_another_module():
    found = []
    for m, p in _modules().items():
        for node in ast.walk(ast.parse(p.read_text())):  # imports inside functions too
            if not isinstance(node, ast.ImportFrom) or not (node.level or (node.module or "").startswith("gridmap")):
                continue
            found += [f"{m}: from {'.' * node.level}{node.module or ''} import {a.name}" for a in node.names
                      if a.name.startswith("_") and not a.name.startswith("__")]
    assert sorted(set(found)) == []


def test_no_python_module_is_over_400_lines():
    long = {str(p.relative_to(ROOT)): n for p in _modules().values() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_the_readme_layout_names_folders_that_exist():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout"):]
    layout = layout[: layout.index("```", layout.index("```") + 3)]
    folders = set(re.findall(r"^\s{2}(\w+)/", layout, flags=re.M))
    assert folders, "the Layout section lists the package's folders"
    missing = sorted(f for f in folders if not (PKG / f).is_dir())
    assert missing == []
    on_disk = sorted(p.name for p in PKG.iterdir() if p.is_dir() and (p / "__init__.py").exists())
    assert sorted(set(on_disk) - folders) == [], "every package folder is in the README's Layout"
