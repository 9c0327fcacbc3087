"""Re-create gridmap/web/static/vendor/ from the npm registry (developer tool; not run at install).

The web app's maps must work on a government network with no internet, so the JavaScript, CSS,
images and fonts that folium's Leaflet maps load are shipped inside the package. This script
fetches the pinned versions with `npm pack` (npm's own client, so any registry mirror configured
for npm is used), copies only the files the maps load (minified JS/CSS and the images and fonts
their CSS refers to), adds each package's licence, and writes vendor/README.md and
vendor/manifest.json (sha256 of every file; tests/test_maps.py checks the tree against it).

    python scripts/vendor_assets.py            # rewrite gridmap/web/static/vendor/
    python scripts/vendor_assets.py --check    # fetch and compare, write nothing (exit 1 on a difference)

To upgrade a package, change its version here, run the script, and run the map tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "gridmap" / "web" / "static" / "vendor"


@dataclass(frozen=True)
class Package:
    """One npm package: which files to copy (tarball path under package/ -> vendored path)."""

    name: str
    version: str
    folder: str
    licence: str
    files: dict[str, str]
    licence_file: str | None  # in the tarball; None: LICENCE_TEXT below supplies it
    note: str = ""


PACKAGES = [
    Package("leaflet", "1.9.3", "leaflet", "BSD-2-Clause", {
        "dist/leaflet.js": "leaflet.js", "dist/leaflet.css": "leaflet.css",
        **{f"dist/images/{n}": f"images/{n}" for n in
           ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png", "marker-shadow.png")},
    }, "LICENSE"),
    Package("jquery", "3.7.1", "jquery", "MIT", {"dist/jquery.min.js": "jquery.min.js"}, "LICENSE.txt",
            "folium's Popup builds its content with $(...)."),
    Package("bootstrap", "5.2.2", "bootstrap", "MIT", {
        "dist/js/bootstrap.bundle.min.js": "js/bootstrap.bundle.min.js",
        "dist/css/bootstrap.min.css": "css/bootstrap.min.css",
    }, "LICENSE", "Listed by folium.Map; not loaded by gridmap's own map pages."),
    Package("@fortawesome/fontawesome-free", "6.2.0", "fontawesome-free", "CC-BY-4.0 (icons), OFL-1.1 (fonts), MIT (code)", {
        "css/all.min.css": "css/all.min.css",
        **{f"webfonts/{n}.woff2": f"webfonts/{n}.woff2" for n in
           ("fa-solid-900", "fa-regular-400", "fa-brands-400", "fa-v4compatibility")},
    }, "LICENSE.txt", "Only the WOFF2 fonts: the CSS lists TTF as a fallback that every browser "
                      "able to run Leaflet 1.9 skips, so the .ttf files are left out."),
    Package("leaflet.awesome-markers", "2.0.5", "leaflet.awesome-markers", "ISC", {
        "dist/leaflet.awesome-markers.min.js": "leaflet.awesome-markers.min.js",
        "dist/leaflet.awesome-markers.css": "leaflet.awesome-markers.css",
        **{f"dist/images/{n}": f"images/{n}" for n in
           ("markers-soft.png", "markers-soft@2x.png", "markers-shadow.png", "markers-shadow@2x.png")},
    }, "LICENSE"),
    Package("leaflet.markercluster", "1.1.0", "leaflet.markercluster", "MIT", {
        "dist/leaflet.markercluster.js": "leaflet.markercluster.js",
        "dist/MarkerCluster.css": "MarkerCluster.css",
        "dist/MarkerCluster.Default.css": "MarkerCluster.Default.css",
    }, "MIT-LICENCE.txt"),
    Package("leaflet-draw", "1.0.2", "leaflet-draw", "MIT", {
        "dist/leaflet.draw.js": "leaflet.draw.js", "dist/leaflet.draw.css": "leaflet.draw.css",
        **{f"dist/images/{n}": f"images/{n}" for n in ("spritesheet.png", "spritesheet-2x.png", "spritesheet.svg")},
    }, None, "For grid editing (folium.plugins.Draw); the npm tarball has no licence file, the "
             "upstream MIT-LICENSE.md is reproduced."),
    Package("leaflet.heat", "0.2.0", "leaflet.heat", "BSD-2-Clause", {"dist/leaflet-heat.js": "leaflet-heat.js"},
            "LICENSE", "npm 0.2.0; folium's own copy adds upstream PR #78 (weights), which unweighted points do not need."),
]

# Fonts the CSS names as a fallback only (see the fontawesome note): not shipped, on purpose.
OMITTED_FALLBACKS = ("../webfonts/fa-solid-900.ttf", "../webfonts/fa-regular-400.ttf",
                     "../webfonts/fa-brands-400.ttf", "../webfonts/fa-v4compatibility.ttf")

LICENCE_TEXT = {
    "leaflet-draw": """Copyright 2012-2016 Jacob Toye and Leaflet

Permission is hereby granted, free of charge, to any person obtaining
a copy of this software and associated documentation files (the
"Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to
the following conditions:

The above copyright notice and this permission notice shall be
included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION
OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
""",
}


def npm_pack(pkg: Package, dest: Path) -> tuple[Path, str]:
    """Download one package tarball with `npm pack`; return its path and npm's integrity string."""
    out = subprocess.run(["npm", "pack", f"{pkg.name}@{pkg.version}", "--json", "--pack-destination", str(dest)],
                         check=True, capture_output=True, text=True).stdout
    info = json.loads(out)[0]
    return dest / info["filename"], info["integrity"]


def extract(pkg: Package, tarball: Path) -> dict[str, bytes]:
    """The package's chosen files (vendored path -> bytes), plus its LICENSE."""
    files: dict[str, bytes] = {}
    with tarfile.open(tarball) as tar:
        for src, dst in pkg.files.items():
            member = tar.extractfile(f"package/{src}")
            if member is None:
                raise SystemExit(f"{pkg.name}@{pkg.version}: {src} is not a file in the tarball")
            files[dst] = member.read()
        if pkg.licence_file:
            files["LICENSE"] = tar.extractfile(f"package/{pkg.licence_file}").read()
        else:
            files["LICENSE"] = LICENCE_TEXT[pkg.folder].encode()
    return files


def readme(rows: list[tuple[Package, str, int, int]]) -> str:
    """vendor/README.md: what is here, its version, licence and size."""
    lines = [
        "# Vendored web assets", "",
        "Leaflet and the plugins that folium's maps load, served by the app itself so that maps work",
        "with no internet. Generated by `scripts/vendor_assets.py` from the npm registry; do not edit by",
        "hand. Each folder holds the package's licence as `LICENSE`. `manifest.json` lists every file",
        "with its sha256.", "",
        "| npm package | version | licence | files | bytes | notes |", "| --- | --- | --- | --- | --- | --- |",
    ]
    for pkg, _integrity, n, size in rows:
        lines.append(f"| {pkg.name} | {pkg.version} | {pkg.licence} | {n} | {size:,} | {pkg.note} |")
    lines += ["", f"Total: {sum(r[3] for r in rows):,} bytes (licences included).", ""]
    return "\n".join(lines)


def build(work: Path) -> dict[str, bytes]:
    """Every vendored file (path relative to vendor/ -> bytes), README and manifest included."""
    tree: dict[str, bytes] = {}
    rows, manifest = [], {"packages": [], "omitted_fallbacks": list(OMITTED_FALLBACKS), "files": {}}
    for pkg in PACKAGES:
        tarball, integrity = npm_pack(pkg, work)
        files = extract(pkg, tarball)
        for rel, data in files.items():
            tree[f"{pkg.folder}/{rel}"] = data
            manifest["files"][f"{pkg.folder}/{rel}"] = hashlib.sha256(data).hexdigest()
        manifest["packages"].append({"name": pkg.name, "version": pkg.version, "folder": pkg.folder,
                                     "licence": pkg.licence, "integrity": integrity})
        rows.append((pkg, integrity, len(files), sum(len(d) for d in files.values())))
    tree["README.md"] = readme(rows).encode()
    tree["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    return tree


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the vendored tree; write nothing")
    ap.add_argument("--out", type=Path, default=VENDOR, help="target folder (default: %(default)s)")
    args = ap.parse_args(argv)
    if shutil.which("npm") is None:
        raise SystemExit("npm is not installed (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        tree = build(Path(tmp))
    if args.check:
        have = {p.relative_to(args.out).as_posix(): p.read_bytes() for p in args.out.rglob("*") if p.is_file()}
        diff = sorted(set(have) ^ set(tree) | {k for k in tree if k in have and have[k] != tree[k]})
        for k in diff:
            print(f"differs: {k}")
        return 1 if diff else 0
    if args.out.exists():
        shutil.rmtree(args.out)
    for rel, data in tree.items():
        path = args.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    print(f"wrote {len(tree)} files, {sum(map(len, tree.values())):,} bytes to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
