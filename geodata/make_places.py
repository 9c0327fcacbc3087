"""Make geodata/places.csv, the demo's offline gazetteer (run from the repository root).

Derived only from what geodata/ already holds, nothing invented beyond it:
- the 13 town seats: the names and hand-placed seat points of TOWNS in make_demo.py (WGS84,
  accurate to a few km; read from that file's source, not by importing it, which needs cnmaps);
- one service centre (党群服务中心) per zone: the zone's name from zones.geojson and a point
  inside the zone (shapely point_on_surface), as synthetic as the zones themselves.
Output: name,kind,code,lon,lat in EPSG:4326, sorted by code; two runs give identical files.
"""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path

import shapely

HERE = Path(__file__).resolve().parent
COUNTY = "371403"


def town_seats() -> list[dict]:
    tree = ast.parse((HERE / "make_demo.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "TOWNS")
    return [{"name": f"{name}驻地", "kind": "town_seat", "code": COUNTY + code, "lon": f"{lon:.6f}", "lat": f"{lat:.6f}"}
            for name, code, lon, lat, _, _ in ast.literal_eval(node.value)]


def zone_centres() -> list[dict]:
    zones = json.loads((HERE / "zones.geojson").read_text(encoding="utf-8"))["features"]
    out = []
    for f in zones:
        pt = shapely.point_on_surface(shapely.geometry.shape(f["geometry"]))
        out.append({"name": f"{f['properties']['name']}党群服务中心", "kind": "service_centre",
                    "code": f["properties"]["code"], "lon": f"{pt.x:.6f}", "lat": f"{pt.y:.6f}"})
    return out


def main() -> None:
    rows = sorted(town_seats() + zone_centres(), key=lambda r: r["code"])
    with open(HERE / "places.csv", "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, ["name", "kind", "code", "lon", "lat"], lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {len(rows)} places to {HERE / 'places.csv'}")


if __name__ == "__main__":
    main()
