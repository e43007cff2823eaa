"""The transparency report for any period, counted from the disclosure log and nothing else.

Per kind of process: requests answered in the period, by outcome (complied fully, partially,
no data, rejected, withdrawn), and the accounts affected (distinct subscriber records
disclosed). Kinds the policy lists in `[legal_desk] banded_kinds` (national security
letters) appear only as bands of `band_width` (0-499, 500-999, ...), with no outcomes, and
are left out of the totals, which could otherwise be subtracted back to an exact count.

`tally` is pure (entries in, report out); `report` reads the log through the gate (the desk's
`search`, audited) and `as_csv` writes what the page and the CLI show.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cpniguard.access import Actor, access
from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE
from cpniguard.legal.disclosures import period
from cpniguard.legal.models import Disclosure, Outcome
from cpniguard.policy import Action, Policy, current_policy

OUTCOMES = tuple(o.value for o in Outcome)
OUTCOME_LABELS = {o.value: o.label for o in Outcome}
CSV_COLUMNS = ("kind", "label", "requests", *OUTCOMES, "accounts_affected")


@dataclass(frozen=True, slots=True)
class Entry:
    """What the report needs of one disclosure log row."""

    kind: str
    outcome: str
    subscribers: tuple[int, ...]


def band(count: int, width: int) -> str:
    low = count // width * width
    return f"{low}-{low + width - 1}"


def tally(entries: Iterable[Entry], policy: Policy) -> dict[str, Any]:
    banded, width = set(policy.legal_desk.banded_kinds), policy.legal_desk.band_width
    per_kind: dict[str, list[Entry]] = {}
    for entry in entries:
        per_kind.setdefault(entry.kind, []).append(entry)
    kinds, bands = [], []
    total = dict.fromkeys(OUTCOMES, 0)
    accounts: set[int] = set()
    for kind_id in sorted(per_kind):
        rows = per_kind[kind_id]
        kind = policy.legal_process.get(kind_id)
        label = kind.label if kind else kind_id
        affected = {s for e in rows for s in e.subscribers}
        if kind_id in banded:
            bands.append({"kind": kind_id, "label": label, "requests": band(len(rows), width),
                          "accounts": band(len(affected), width)})
            continue
        outcomes = {o: sum(e.outcome == o for e in rows) for o in OUTCOMES}
        kinds.append({"kind": kind_id, "label": label, "requests": len(rows),
                      "outcomes": outcomes, "accounts": len(affected)})
        for outcome, count in outcomes.items():
            total[outcome] += count
        accounts |= affected
    return {"kinds": kinds, "banded": bands,
            "totals": {"requests": sum(total.values()), "outcomes": total,
                       "accounts": len(accounts)},
            "outcome_labels": OUTCOME_LABELS, "band_width": width}


def report(actor: Actor, start: date, end: date) -> dict[str, Any]:
    low, high = period(start, end)  # ValueError for a reversed period, before anything
    with access(actor, Action.SEARCH, resource=RESOURCE, purpose=PURPOSE, reference=None,
                subject=f"transparency:{start.isoformat()}..{end.isoformat()}",
                categories=CATEGORIES) as permit:
        entries = [Entry(r.kind, r.outcome, tuple(r.subscribers))
                   for r in Disclosure.objects.filter(when__gte=low, when__lt=high)]
        permit.touched(["disclosure.kind", "disclosure.outcome", "disclosure.subscribers"])
    result = tally(entries, current_policy())
    result["period"] = {"from": start.isoformat(), "to": end.isoformat()}
    return result


COLORS = {"complied_fully": "#2f7d4f", "complied_partially": "#8fbf5a",
          "no_data": "#9aa3b2", "rejected": "#b3261e", "withdrawn": "#d9a21b"}


def chart(result: dict[str, Any]) -> dict[str, Any]:
    """The page's chart data (drawn by web/legal-charts.js with the vendored uPlot): per kind
    reported exactly, one value per outcome. Banded kinds have no exact counts to draw."""
    kinds = result["kinds"]
    return {"labels": [k["label"] for k in kinds],
            "max": max((k["requests"] for k in kinds), default=0),
            "outcomes": [{"outcome": o, "label": OUTCOME_LABELS[o], "color": COLORS[o],
                          "values": [k["outcomes"][o] for k in kinds]} for o in OUTCOMES]}


def as_csv(result: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    rows: Sequence[dict[str, Any]] = result["kinds"]
    for kind in rows:
        writer.writerow([kind["kind"], kind["label"], kind["requests"],
                         *(kind["outcomes"][o] for o in OUTCOMES), kind["accounts"]])
    for kind in result["banded"]:
        writer.writerow([kind["kind"], kind["label"], kind["requests"],
                         *("" for _ in OUTCOMES), kind["accounts"]])
    totals = result["totals"]
    writer.writerow(["total", "all kinds reported exactly", totals["requests"],
                     *(totals["outcomes"][o] for o in OUTCOMES), totals["accounts"]])
    return out.getvalue()
