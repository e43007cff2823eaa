"""Disconnects by cause and usage, per group of the network view (NAS, POP), and their plots.

Over the folded sessions (`folding.Folded`) and the rows they came from, with numpy:

- a session's cause is the Acct-Terminate-Cause of its latest-ending row that has one, when
  the session ended by a Stop; other ended sessions are labelled by how they ended (see
  `usage`); sessions still open are not disconnects. Each session is counted once, however
  many addresses (rows) its Stop closed.
- usage is the octets of each row, placed in the bucket of the instant its counters were last
  read (its end, or its last record while open): the store's columns give each octet to one
  row only, so summing rows counts it once.

Every figure covering fewer than k distinct subscribers is suppressed like the rest of the
view (None; "< k" in text and CSV).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from cpniguard.connectivity.store.schema import OPEN_END
from cpniguard.quality.folding import NAS_RESTART, NO_STOP, STOP, Folded
from cpniguard.quality.groups import Grouping
from cpniguard.quality.network import Buckets
from cpniguard.quality.suppress import cell, cells, distinct, distinct_per_bucket
from cpniguard.quality.usage import LOST_LABEL, RESTART_LABEL, UNKNOWN_LABEL, cause_name

Ints = npt.NDArray[np.int64]
MEGA = 1_000_000


def session_causes(table: pa.Table, folded: Folded) -> tuple[Ints, list[str]]:
    """(label code of each session, -1 while open; the labels)."""
    labels = [RESTART_LABEL, LOST_LABEL, UNKNOWN_LABEL]
    code = np.full(len(folded), -1, dtype=np.int64)
    code[folded.kind == NAS_RESTART] = 0
    code[folded.kind == NO_STOP] = 1
    code[folded.kind == STOP] = 2
    if "terminate_cause" not in table.column_names or not len(table):
        return code, labels
    encoded = pc.dictionary_encode(table.column("terminate_cause")).combine_chunks()
    index = np.asarray(encoded.indices.fill_null(-1).to_numpy(), dtype=np.int64)
    known = {name: n for n, name in enumerate(labels)}
    # Two spellings of one cause ("2", "Lost-Carrier") are one label.
    label_of = np.array([known.setdefault(cause_name(str(text)), len(known))
                         for text in encoded.dictionary.to_pylist()] or [-1], dtype=np.int64)
    labels = list(known)
    rows = np.flatnonzero(index >= 0)
    if not len(rows):
        return code, labels
    session = folded.row_session[rows]
    end = table.column("original_end").to_numpy()[rows]
    order = np.lexsort((end, session))
    last = order[np.r_[session[order][1:] != session[order][:-1], True]]
    stopped = folded.kind[session[last]] == STOP
    code[session[last][stopped]] = label_of[index[rows[last][stopped]]]
    return code, labels


def _readings(table: pa.Table) -> tuple[Ints, Ints, Ints, npt.NDArray[np.bool_]]:
    """Per row: (reading instant, octets in, octets out, has counters); unknown counts 0."""
    n = len(table)
    if "octets_in" not in table.column_names or not n:
        zero = np.zeros(n, dtype=np.int64)
        return zero, zero, zero, np.zeros(n, dtype=bool)
    into, out = table.column("octets_in"), table.column("octets_out")
    has = ~np.asarray(pc.and_(into.is_null(), out.is_null()).to_numpy(zero_copy_only=False),
                      dtype=bool)
    end = table.column("original_end").to_numpy().astype(np.int64)
    start = table.column("original_start").to_numpy().astype(np.int64)
    seen = table.column("last_seen")
    last_seen = np.where(seen.is_null().to_numpy(zero_copy_only=False), start,
                         seen.fill_null(0).to_numpy())
    at = np.where(end == OPEN_END, last_seen, end).astype(np.int64)
    return (at, into.fill_null(0).to_numpy().astype(np.int64),
            out.fill_null(0).to_numpy().astype(np.int64), has)


def _sums(buckets: Buckets, index: Ints, values: Ints) -> Ints:
    totals = np.zeros(buckets.count, dtype=np.int64)
    inside = index >= 0
    np.add.at(totals, index[inside], values[inside])
    return totals


@dataclass(frozen=True)
class CauseUsageCounts:
    """One group's causes and usage before the k rule (see `groups.ViewCounts`)."""

    causes: dict[str, tuple[int, int, Ints, Ints]]   # label -> (sessions, distinct,
                                                     # per-bucket count, per-bucket distinct)
    octets_in: int
    octets_out: int
    everyone: int                                    # distinct holders among the readings
    series_in: Ints
    series_out: Ints
    covered: Ints


def present_figures(counts: CauseUsageCounts, k: int) -> dict[str, Any]:
    causes: dict[str, int | None] = {}
    series: dict[str, list[int | None]] = {}
    # Most frequent first, then by name.
    for label in sorted(counts.causes, key=lambda c: (-counts.causes[c][0], c)):
        n, by, values, covered = counts.causes[label]
        causes[label] = cell(n, by, k)
        series[label] = cells(values, covered, k)
    return {"causes": causes, "cause_series": series,
            "usage": {"octets_in": cell(counts.octets_in, counts.everyone, k),
                      "octets_out": cell(counts.octets_out, counts.everyone, k)},
            "usage_series": {"octets_in": cells(counts.series_in, counts.covered, k),
                             "octets_out": cells(counts.series_out, counts.covered, k)}}


def group_counts(table: pa.Table, folded: Folded, group: Grouping, buckets: Buckets
                 ) -> dict[str, CauseUsageCounts]:
    code, labels = session_causes(table, folded)
    at, into, out, has = _readings(table)
    row_group = group.code[folded.row_session] if len(table) else np.zeros(0, np.int64)
    row_holder = folded.holder[folded.row_session] if len(table) else np.zeros(0, np.int64)
    ended = (code >= 0) & (folded.finish >= buckets.since) & (folded.finish < buckets.until)
    found: dict[str, CauseUsageCounts] = {}
    for number, name in enumerate(group.names):
        mine = ended & (group.code == number)
        causes: dict[str, tuple[int, int, Ints, Ints]] = {}
        for label_code in sorted(set(code[mine].tolist())):
            which = mine & (code == label_code)
            holders = folded.holder[which]
            index = buckets.index(folded.finish[which])
            counts = np.bincount(index[index >= 0], minlength=buckets.count).astype(np.int64)
            causes[labels[label_code]] = (int(which.sum()), len(distinct(holders)), counts,
                                          distinct_per_bucket(index, holders, buckets.count))
        rows = has & (row_group == number) & (at >= buckets.since) & (at < buckets.until)
        index = buckets.index(at[rows])
        found[name] = CauseUsageCounts(
            causes, int(into[rows].sum()), int(out[rows].sum()),
            len(distinct(row_holder[rows])), _sums(buckets, index, into[rows]),
            _sums(buckets, index, out[rows]),
            distinct_per_bucket(index, row_holder[rows], buckets.count))
    return found


def group_figures(table: pa.Table, folded: Folded, group: Grouping, buckets: Buckets,
                  k: int) -> dict[str, dict[str, Any]]:
    """By group name: `causes` (ended sessions in range by cause), `cause_series` (per bucket,
    by cause), `usage` (octets in/out over the range) and `usage_series` (per bucket)."""
    return {name: present_figures(counts, k)
            for name, counts in group_counts(table, folded, group, buckets).items()}


def _megabytes(values: list[int | None]) -> list[float | None]:
    return [None if v is None else round(v / MEGA, 3) for v in values]


def group_plots(view: dict[str, Any], x: list[int], seconds: int) -> list[dict[str, Any]]:
    """The disconnect-cause and usage plots of one group view (plots.py's format)."""
    name = view["device"]
    step = f"per {seconds // 60} min" if seconds < 86_400 else "per day"
    plots = []
    if view.get("cause_series"):
        plots.append({"id": f"{name}:causes", "title": f"Disconnects by cause on {name}",
                      "kind": "bars", "x": x, "unit": f"sessions {step}",
                      "series": [{"label": label, "values": values}
                                 for label, values in view["cause_series"].items()]})
    usage = view.get("usage_series")
    if usage and any(v for values in usage.values() for v in values):
        plots.append({"id": f"{name}:usage", "title": f"Usage on {name}", "kind": "bars",
                      "x": x, "unit": f"MB {step}",
                      "series": [{"label": "in (from subscribers), MB",
                                  "values": _megabytes(usage["octets_in"])},
                                 {"label": "out (to subscribers), MB",
                                  "values": _megabytes(usage["octets_out"])}]})
    return plots


def add_causes_and_usage(report: dict[str, Any], table: pa.Table, folded: Folded,
                         groupings: dict[str, Grouping], buckets: Buckets, k: int) -> None:
    """Give the report's device (and POP) views their causes and usage, and their plots."""
    figures: dict[str, dict[str, dict[str, Any]]] = {}
    for key, level in (("devices", "nas"), ("pops", "pop")):
        if report.get(key) and level in groupings:
            figures[key] = group_figures(table, folded, groupings[level], buckets, k)
    attach_causes_and_usage(report, figures)


def attach_causes_and_usage(report: dict[str, Any],
                            figures: dict[str, dict[str, dict[str, Any]]]) -> None:
    """`figures[key][view name]`: the presented causes and usage of the views of `key`."""
    for key in ("devices", "pops"):
        for view in (report.get(key) or []) if key in figures else []:
            view.update(figures[key].get(view["device"], {}))
    report.setdefault("plots", [])
    for view in report.get("devices") or []:
        report["plots"].extend(group_plots(view, report["buckets"],
                                           report["resolution_seconds"]))
