"""Questions, the numpy floor and the results table for bench/log_store.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from radacct_synth import EPOCH_2025, Truth

_EPOCH = datetime.fromtimestamp(EPOCH_2025, UTC)


@dataclass(frozen=True)
class Questions:
    ipv4: npt.NDArray[np.uint64]
    offsets: npt.NDArray[np.uint64]     # seconds since 2025-01-01T00:00:00Z
    texts: list[str]
    moments: list[datetime]


def _dotted(ip: int) -> str:
    return f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"


def make_questions(truths: list[Truth], count: int, seed: int, days: int) -> Questions:
    """80% inside a stored IPv4 session, 10% a random pool address at a random instant (hit or
    miss), 10% an address from 203.0.113.0/24, which no session holds."""
    rng = np.random.default_rng(seed)
    kinds = rng.random(count)
    ips = np.zeros(count, np.uint64)
    at = np.zeros(count, np.uint64)
    for n in range(count):
        if kinds[n] < 0.8:
            truth = truths[int(rng.integers(len(truths)))]
            while True:
                row = int(rng.integers(len(truth.ipv4)))
                if truth.ipv4[row]:
                    break
            start = int(truth.start[row])
            end = int(truth.stop[row]) if truth.stop[row] >= 0 else int(truth.update[row]) + 1
            ips[n] = truth.ipv4[row]
            at[n] = start - EPOCH_2025 + int(rng.integers(max(end - start, 1)))
        else:
            slot = int(rng.integers(1 << 17))
            ips[n] = ((198 << 24) | (18 << 16) | slot) if kinds[n] < 0.9 else (
                (203 << 24) | (113 << 8) | int(rng.integers(256)))
            at[n] = int(rng.integers(days * 86_400))
    return Questions(ips, at, [_dotted(int(i)) for i in ips],
                     [_EPOCH + timedelta(seconds=int(s)) for s in at])


def floor_index(work: Path, chunks: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint32]]:
    """Sorted (address << 32 | start) keys of every IPv4 session, and their stops (uint32 max
    when NULL): 12 bytes a session in RAM, what PostgreSQL's index answers from."""
    keys, stops = [], []
    for index in range(chunks):
        with np.load(work / f"truth-{index:03d}.npz") as data:
            v4 = data["ipv4"] != 0
            keys.append((data["ipv4"][v4].astype(np.uint64) << np.uint64(32))
                        | data["start"][v4].astype(np.uint64))
            stops.append(data["stop"][v4])
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    return key[order], np.concatenate(stops)[order]


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _split_rows(ours: dict[str, Any]) -> list[tuple[str, ...]]:
    """Single lookups finding at most one row and finding several, apart."""
    found = []
    for label, key in (("  questions finding 0-1 rows", "at_most_one_row"),
                       ("  questions finding 2+ rows", "several_rows")):
        part = ours.get(key)
        if part:
            found.append((label, f"{part['p50_ms']:.3f} / {part['p99_ms']:.3f} "
                          f"({part['share']:.0%} of questions)", "", "", "", ""))
    return found


def table_lines(f: dict[str, Any], goals: dict[str, float]) -> tuple[list[str], dict[str, bool]]:
    ingest, ours, floor = f["ingest"], f["ours"], f["floor"]
    pg = f.get("pg")
    events = f["events"]
    rate = ingest["lines"] / ingest["ours_s"]
    rows = [("metric", "ours", "PostgreSQL", "numpy floor", "ratio", "goal")]
    verdicts: dict[str, bool] = {}

    def verdict(name: str, met: bool) -> str:
        verdicts[name] = met
        return "met" if met else "NOT met"

    if pg:
        pg_s = ingest["pg_copy_s"] + f["pg_index_s"]
        pg_rate = ingest["lines"] / pg_s
        met = rate >= goals["ingest_lines_per_s"] and rate / pg_rate >= goals["ingest_vs_pg"]
        rows.append(("ingest lines/s", f"{rate:,.0f}",
                     f"{pg_rate:,.0f} (COPY {ingest['pg_copy_s']:.0f} s + index "
                     f"{f['pg_index_s']:.0f} s)", "", f"{rate / pg_rate:.1f}x",
                     ">=500k and >=3x: " + verdict("ingest", met)))
        registry = ingest["open_session_registry_s"]
        rest = ingest["lines"] / max(ingest["ours_s"] - registry, 1e-9)
        rows.append(("  of which open-session registry", f"{registry:.0f} s of "
                     f"{ingest['ours_s']:.0f} s; without it {rest:,.0f}/s", "", "", "", ""))
        sizes = f["pg_sizes"]
        pg_bytes = sizes["table"] + sizes["index"]
        share = f["store_bytes"] / pg_bytes
        rows.append(("bytes/event", f"{f['store_bytes'] / events:.1f}",
                     f"{pg_bytes / events:.1f} (all relations {sizes['total'] / events:.1f})",
                     "12 (RAM)", f"{share:.2f}",
                     "<=0.2: " + verdict("storage", share <= goals["bytes_vs_pg"])))
        faster, slower = pg["p99_ms"] / ours["p99_ms"], ours["p99_ms"] / floor["p99_ms"]
        rows.append(("single p50/p99 ms", f"{ours['p50_ms']:.3f} / {ours['p99_ms']:.3f}",
                     f"{pg['p50_ms']:.3f} / {pg['p99_ms']:.3f}",
                     f"{floor['p50_ms']:.4f} / {floor['p99_ms']:.4f}",
                     f"PG/ours p99 {faster:.2f}x; ours/floor {slower:.0f}x",
                     "3x below PG, within 10x of floor: " + verdict(
                         "single", faster >= goals["p99_vs_pg"]
                         and slower <= goals["p99_vs_floor"])))
        rows.extend(_split_rows(ours))
        batch_ratio = _ratio(pg["batch_s"], ours["batch_s"])
        rows.append(("100k batch s", f"{ours['batch_s']:.2f}", f"{pg['batch_s']:.2f}",
                     f"{floor['batch_s']:.3f}", f"PG/ours {batch_ratio:.1f}x",
                     ">=5x: " + verdict("batch", batch_ratio >= goals["batch_vs_pg"])))
        rows.append(("hit rate single/batch",
                     f"{ours['hit_rate']:.3f} / {ours['batch_hit_rate']:.3f}",
                     f"{pg['hit_rate']:.3f} / {pg['batch_hit_rate']:.3f}",
                     f"- / {floor['batch_hit_rate']:.3f}", "", ""))
    if not pg:
        rows.append(("ingest lines/s", f"{rate:,.0f}", "-", "", "", ""))
        rows.append(("bytes/event", f"{f['store_bytes'] / events:.1f}", "-", "12 (RAM)", "", ""))
        rows.append(("single p50/p99 ms", f"{ours['p50_ms']:.3f} / {ours['p99_ms']:.3f}", "-",
                     f"{floor['p50_ms']:.4f} / {floor['p99_ms']:.4f}", "", ""))
        rows.extend(_split_rows(ours))
        rows.append(("batch s", f"{ours['batch_s']:.2f}", "-", f"{floor['batch_s']:.3f}", "",
                     ""))
    rows.append(("audited attribute p50/p99 ms", f"{f['audited']['p50_ms']:.2f} / "
                 f"{f['audited']['p99_ms']:.2f}", "", "", "", "reported"))
    rows.append(("peak RSS GiB (ingest / lookups / all)", f"{ingest['ingest_rss_gib']:.2f} / "
                 f"{ours['lookup_rss_gib']:.2f} / {f['peak_rss_gib']:.2f}", "", "", "",
                 "<4 GiB: " + verdict("memory", ours["lookup_rss_gib"] < goals["rss_gib"])))
    split = ours.get("after_lookups")
    if split:
        rows.append(("  resident after lookups GiB", f"{split['anonymous']:.2f} anonymous + "
                     f"{split['mapped_files']:.2f} store pages mapped", "", "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    registry = "on" if f.get("open_session_registry", True) else "OFF (not the full ingest path)"
    lines = [f"{events:,} events in {f['chunks']} files; open-session registry {registry}; "
             f"PostgreSQL {f.get('pg_settings', {})}"]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return lines, verdicts
