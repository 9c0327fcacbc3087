"""Dispatch metrics (结案率, 按期结案率, ...) over incident histories in Parquet partitions, on Dask.

The definitions are those of `gridmap.incidents.metrics` (read its docstring), written as
column operations: each partition is checked (unknown status, rating outside 1-5, closed
before reported: ValueError, as on one machine), flagged and summed per group; the sums are
combined in a tree reduction. Counts and rates are exact. Times to close need every value of
a group (a p90 is not a sum), so closed incidents' hours are shuffled by group and
`metrics._hour_stats` runs on each group's hours in incident-id order: the result equals
`metrics.compute` fed the incidents in id order (the mean is a float sum, so order matters
in the last bit).

Groups: grid, zone, worker, category, all (as `metrics.compute`) and month (`YYYY-MM` of
reported_at in the jurisdiction's time zone).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..i18n import tr
from ..incidents import metrics as single
from ..incidents.model import STATUSES, Incident

COLUMNS = ["id", "category", "lon", "lat", "grid_code", "zone_code", "town_code", "assignee", "status", "reported_at",
           "due_at", "closed_at", "rework_count", "extended", "rating", "merged_into"]
_KEY_COLUMN = {"grid": "grid_code", "zone": "zone_code", "town": "town_code", "worker": "assignee",
               "category": "category"}
BY = sorted([*single.GROUP_FIELDS, "month"])
_NONE = "\x00none"  # stands for a missing key inside Dask (group keys must not be null)
_SUMS = ["count", "filed", "due", "closed", "closed_on_time", "overdue_open", "rework", "extended", "rated",
         "rating_sum"]
_TIME = "datetime64[us, UTC]"


def incidents_frame(incidents: Iterable[Incident]) -> pd.DataFrame:
    """Incident records as the columns the metrics read (times as UTC timestamps, id as an integer)."""
    rows = list(incidents)
    col = lambda name: [getattr(i, name) for i in rows]
    times = lambda name: pd.to_datetime(pd.Series(col(name), dtype=object), utc=True).astype(_TIME)
    return pd.DataFrame({
        "id": pd.array([int(i.id) for i in rows], dtype="int64"),
        **{c: pd.Series(col(c), dtype="str") for c in ("category", "grid_code", "zone_code", "town_code", "assignee",
                                                       "status", "merged_into")},
        "lon": pd.array(col("lon"), dtype="float64"), "lat": pd.array(col("lat"), dtype="float64"),
        "reported_at": times("reported_at"), "due_at": times("due_at"), "closed_at": times("closed_at"),
        "rework_count": pd.array(col("rework_count"), dtype="int64"),
        "extended": pd.array([bool(v) for v in col("extended")], dtype="bool"),
        "rating": pd.array(col("rating"), dtype="Int64"),
    })[COLUMNS]


def write_history(frame: pd.DataFrame, dst: str | Path, rows_per_partition: int = 1_000_000) -> int:
    """Write an incident frame as GeoParquet partitions (points from lon/lat, EPSG:4326); return their number."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    n = 0
    for n, start in enumerate(range(0, len(frame), rows_per_partition), start=1):
        _write_part(frame.iloc[start:start + rows_per_partition], dst / f"part.{n - 1:05d}.parquet")
    return n


def _write_part(part: pd.DataFrame, path: Path) -> None:
    import geopandas as gpd

    gpd.GeoDataFrame(part, geometry=gpd.points_from_xy(part["lon"], part["lat"]), crs="EPSG:4326") \
        .to_parquet(path, index=False)


def export_history(store, dst: str | Path, rows_per_partition: int = 1_000_000) -> int:
    """Write a store's incidents as GeoParquet partitions for `read_history`, in id order, one
    partition in memory at a time (keyset pages, so a long history needs no big offsets)."""
    dst = Path(dst)
    dst.mkdir(parents=True, exist_ok=True)
    parts = 0
    for page in store.incidents.pages(rows_per_partition):
        _write_part(incidents_frame(page), dst / f"part.{parts:05d}.parquet")
        parts += 1
    return parts


def read_history(src: str | Path):
    """A Dask DataFrame of the metric columns of a (Geo)Parquet incident history.

    A history exported before town_code was kept is read without it (by town is then refused)."""
    import dask.dataframe as dd
    import pyarrow.parquet as pq

    first = next(iter(sorted(Path(src).glob("*.parquet"))), None)
    cols = COLUMNS
    if first is not None and "town_code" not in pq.read_schema(first).names:
        cols = [c for c in COLUMNS if c != "town_code"]
    return dd.read_parquet(str(src), columns=cols)


def _check(df: pd.DataFrame) -> None:
    """metrics._check_incident as column tests: ValueError naming the first bad incident."""
    problems = [
        (~df["status"].isin(STATUSES), "unknown status {status!r}"),
        (df["rating"].notna() & ~df["rating"].between(1, 5), "rating {rating!r} outside 1-5"),
        (df["closed_at"].notna() & (df["closed_at"] < df["reported_at"]), "closed_at is before reported_at"),
    ]
    for mask, text in problems:
        mask = mask.fillna(False).to_numpy(dtype=bool)
        if mask.any():
            row = df.iloc[int(np.flatnonzero(mask)[0])]
            raise ValueError(f"incident {row['id']}: " + text.format(status=row["status"], rating=row["rating"]))


def _keys(df: pd.DataFrame, by: str, tz: str) -> pd.Series:
    if by == "all":
        return pd.Series("all", index=df.index, dtype="str")
    if by == "month":
        return df["reported_at"].dt.tz_convert(tz).dt.strftime("%Y-%m").astype("str")
    return df[_KEY_COLUMN[by]].astype("str").fillna(_NONE)


def _flags(df: pd.DataFrame, by: str, start, end, as_of, tz: str) -> pd.DataFrame:
    """One partition: the in-range incidents with their group key, 0/1 flags and hours to close."""
    _check(df)
    df = df[(df["reported_at"] >= start) & (df["reported_at"] < end)]
    filed = ~df["status"].isin(single.EXCLUDED_STATUSES) & df["merged_into"].isna()
    closed = filed & (df["status"] == "closed") & (df["closed_at"].isna() | (df["closed_at"] <= as_of))
    overdue = filed & ~closed & df["due_at"].notna() & (df["due_at"] < as_of)
    due = closed | overdue
    with_close = closed & df["closed_at"].notna()
    micro = (df["closed_at"] - df["reported_at"]).to_numpy().astype("timedelta64[us]").astype("int64")
    rating = df["rating"].astype("Float64")
    return pd.DataFrame({
        "key": _keys(df, by, tz), "id": df["id"].astype("int64"),
        "count": 1, "filed": filed.astype("int64"), "due": due.astype("int64"), "closed": closed.astype("int64"),
        "closed_on_time": (closed & df["due_at"].notna() & with_close & (df["closed_at"] <= df["due_at"]))
        .astype("int64"),
        "overdue_open": overdue.astype("int64"), "rework": (closed & (df["rework_count"] > 0)).astype("int64"),
        "extended": (due & df["extended"].astype(bool)).astype("int64"),
        "rated": rating.notna().astype("int64"), "rating_sum": rating.fillna(0).astype("int64"),
        # like timedelta.total_seconds() / 3600: exact microseconds, then float division
        "hours": np.where(with_close.to_numpy(dtype=bool), micro / 10**6, np.nan) / 3600.0,
    }, index=df.index)


def _hours_of_group(group: pd.DataFrame) -> pd.Series:
    mean, p90 = single._hour_stats(group.sort_values("id")["hours"].tolist())
    return pd.Series({"mean_hours": mean, "p90_hours": p90}, dtype="float64")


def compute_metrics(history, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime | None = None,
                    tz: str = "Asia/Shanghai") -> list[single.Metrics]:
    """`metrics.compute` on a Dask DataFrame of incidents (see `read_history`); `by` may also be month."""
    if by not in BY:
        raise ValueError(f"by must be one of {BY}, got {by!r}")
    single._require_aware("start", start)
    single._require_aware("end", end)
    if not start < end:
        raise ValueError("start must be before end")
    as_of = end if as_of is None else as_of
    single._require_aware("as_of", as_of)
    if by == "town" and "town_code" not in history.columns:
        from ..errors import InputError

        raise InputError(tr("by town: this history was exported before town_code was kept; run `gridmap incidents export-history` again"))
    import dask

    meta = _flags(history._meta, by, start, end, as_of, tz)
    flags = history.map_partitions(_flags, by, start, end, as_of, tz, meta=meta)
    sums = flags[["key", *_SUMS]].groupby("key").sum()
    closed = flags[~flags["hours"].isna()][["key", "id", "hours"]]
    hours = closed.groupby("key").apply(_hours_of_group, meta={"mean_hours": "float64", "p90_hours": "float64"})
    sums, hours = dask.compute(sums, hours)
    return _table(sums, hours, by, as_of)


def _table(sums: pd.DataFrame, hours: pd.DataFrame, by: str, as_of: dt.datetime) -> list[single.Metrics]:
    out = []
    for key, r in sums.iterrows():
        h = hours.loc[key] if key in hours.index else None
        c = {name: int(r[name]) for name in _SUMS}
        out.append(single.Metrics(
            key=None if key == _NONE else str(key), count=c["count"], filed=c["filed"], due=c["due"],
            closed=c["closed"], closed_on_time=c["closed_on_time"], overdue_open=c["overdue_open"],
            rework=c["rework"], extended=c["extended"],
            closure_rate=single.ratio(c["closed"], c["due"]), on_time_rate=single.ratio(c["closed_on_time"], c["due"]),
            rework_rate=single.ratio(c["rework"], c["closed"]), extension_rate=single.ratio(c["extended"], c["due"]),
            mean_hours_to_close=None if h is None else float(h["mean_hours"]),
            p90_hours_to_close=None if h is None else float(h["p90_hours"]),
            satisfaction=c["rating_sum"] / c["rated"] if c["rated"] else None, rated=c["rated"]))
    if by == "all" and not out:  # "all" is returned even when nothing is in range
        out.append(single.summarize("all", [], as_of))
    return sorted(out, key=lambda m: single._key_order(m.key))


def rank_zones(rows: Sequence[single.Metrics]) -> list[dict]:
    """The single-machine zone ranking, on Dask-computed zone metrics."""
    return single.rank_zones(rows)
