"""Speed-test result files, read into `Measurement`s or `Rejected` lines (never dropped).

Two formats:

- `iperf3`: what `iperf3 --json` (`-J`) prints. One file may hold several documents one
  after another (`iperf3 -J >> tests.json`). Per document: `start.timestamp.timesecs` (Unix
  seconds, UTC) is the instant; `end.sum_received.bits_per_second` is the rate delivered (the
  receiver's count, not what the sender pushed). `start.test_start.reverse` = 1 means the
  server sent, so the figure is the subscriber's download; 0 means the client sent (upload);
  `bidir` = 1 gives both (the reverse direction in `end.sum_received_bidir_reverse`). The
  server is `start.connecting_to.host` (or the first `start.connected[].remote_host`); the
  sender's mean TCP RTT, when measured, is the latency. A document carrying `"error"` (iperf3
  could not run or finish the test) is rejected with that message: it is not a measurement.
- `csv`: `account,measured_at,down_mbps,up_mbps,latency_ms,server,method`, a header line
  first. `measured_at` carries an offset (`2026-11-28T14:05:00-06:00`) or a zone
  (`2026-11-28 14:05:00 America/Chicago`); a naive time is rejected with its line number.

Pure functions of the text: no Django, no database.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cpniguard.connectivity.question import Usage, parse_instant

CSV_COLUMNS = ("account", "measured_at", "down_mbps", "up_mbps", "latency_ms", "server",
               "method")
TEXT_LIMIT = 2000
MAX_MBPS = 1_000_000.0  # 1 Tbit/s: anything above is a unit mistake (bits vs megabits)


@dataclass(frozen=True, slots=True)
class Measurement:
    line: int                    # where the result starts in its file (1-based)
    measured_at: datetime        # UTC
    down_mbps: float | None
    up_mbps: float | None
    latency_ms: float | None
    server: str
    method: str
    account: str = ""            # empty: the importer names it (--account)
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    reason: str
    text: str


Parsed = Measurement | Rejected


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _mbps(summary: Any) -> float | None:
    if not isinstance(summary, dict):
        return None
    bits = _number(summary.get("bits_per_second"))
    return None if bits is None or bits < 0 else round(bits / 1_000_000, 3)


def _server(start: dict[str, Any]) -> str:
    target = start.get("connecting_to")
    if isinstance(target, dict) and target.get("host"):
        return str(target["host"])
    for stream in start.get("connected") or []:
        if isinstance(stream, dict) and stream.get("remote_host"):
            return str(stream["remote_host"])
    return ""


def _latency_ms(end: dict[str, Any]) -> float | None:
    # The sending side's kernel measures RTT; a side that did not send reports 0 there.
    rtts = [_number(s["sender"].get("mean_rtt")) for s in end.get("streams") or []
            if isinstance(s, dict) and isinstance(s.get("sender"), dict)]
    measured = [r for r in rtts if r]
    return round(sum(measured) / len(measured) / 1000, 3) if measured else None


def iperf3_document(doc: Any, line: int, text: str) -> Parsed:
    """One `iperf3 --json` document as a measurement, or why it is not one."""
    def rejected(reason: str) -> Rejected:
        return Rejected(line, reason, text[:TEXT_LIMIT])

    if not isinstance(doc, dict):
        return rejected("not an iperf3 result: the JSON is not an object")
    if doc.get("error"):
        return rejected(f"iperf3 reported an error: {doc['error']}")
    start, end = doc.get("start"), doc.get("end")
    if not isinstance(start, dict) or not isinstance(end, dict):
        return rejected("not an iperf3 result: no start or end object")
    stamp = start.get("timestamp")
    seconds = _number(stamp.get("timesecs")) if isinstance(stamp, dict) else None
    if seconds is None:
        return rejected("no start.timestamp.timesecs: the test's instant is unknown")
    raw_setup = start.get("test_start")
    setup: dict[str, Any] = raw_setup if isinstance(raw_setup, dict) else {}
    received = _mbps(end.get("sum_received"))
    if received is None:
        return rejected("no end.sum_received.bits_per_second: the test did not finish")
    # iperf3 3.12 writes no test_start.bidir; its bidirectional results still carry the
    # reverse direction's own summary.
    reverse = bool(setup.get("reverse"))
    bidir = bool(setup.get("bidir")) or "sum_received_bidir_reverse" in end
    down, up = (received, None) if reverse else (None, received)
    if bidir:
        down = _mbps(end.get("sum_received_bidir_reverse"))
        if down is None:
            return rejected("bidirectional test without end.sum_received_bidir_reverse")
    detail = {
        "protocol": str(setup.get("protocol", "")),
        "streams": setup.get("num_streams"),
        "duration": setup.get("duration"),
        "direction": "both" if bidir else "download" if reverse else "upload",
        "sent_mbps": _mbps(end.get("sum_sent")),
        "retransmits": (end.get("sum_sent") or {}).get("retransmits"),
        "version": str(start.get("version", "")),
    }
    return Measurement(line, datetime.fromtimestamp(seconds, UTC), down, up,
                       _latency_ms(end), _server(start), "iperf3", detail=detail)


def parse_iperf3(text: str) -> Iterator[Parsed]:
    """Every document of a file; text between documents (a warning line) is rejected."""
    decoder = json.JSONDecoder()
    position, size = 0, len(text)
    while position < size:
        if text[position].isspace():
            position += 1
            continue
        line = _line_of(text, position)
        if text[position] != "{":
            stop = text.find("\n", position)
            stop = size if stop < 0 else stop
            yield Rejected(line, "text outside an iperf3 JSON document",
                           text[position:stop][:TEXT_LIMIT])
            position = stop
            continue
        try:
            doc, finish = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            # Nothing after a broken document can be trusted to start where it seems to.
            yield Rejected(_line_of(text, error.pos), f"malformed JSON: {error.msg}",
                           text[position:][:TEXT_LIMIT])
            return
        yield iperf3_document(doc, line, text[position:finish])
        position = finish


def _csv_number(row: dict[str, str], name: str) -> float | None:
    raw = (row.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} {raw!r} is not a number") from None
    if not 0 <= value <= MAX_MBPS or value != value:  # NaN compares unequal to itself
        raise ValueError(f"{name} {raw!r} is out of range")
    return value


def _csv_row(row: dict[str, str], line: int, raw: str) -> Parsed:
    account = (row.get("account") or "").strip()
    if not account:
        return Rejected(line, "no account", raw)
    try:
        measured = parse_instant(row.get("measured_at") or "")
    except Usage as error:
        return Rejected(line, f"measured_at: {error}", raw)
    try:
        down, up = _csv_number(row, "down_mbps"), _csv_number(row, "up_mbps")
        latency = _csv_number(row, "latency_ms")
    except ValueError as error:
        return Rejected(line, str(error), raw)
    if down is None and up is None:
        return Rejected(line, "neither down_mbps nor up_mbps is given", raw)
    return Measurement(line, measured.astimezone(UTC), down, up, latency,
                       (row.get("server") or "").strip(),
                       (row.get("method") or "").strip() or "csv", account)


def parse_csv(lines: Iterable[str]) -> Iterator[Parsed]:
    """Rows of the documented CSV; a wrong header rejects the whole file at line 1."""
    numbered = enumerate(lines, start=1)
    for number, header in numbered:
        if not header.strip():
            continue
        names = tuple(name.strip() for name in next(csv.reader([header])))
        missing = [c for c in CSV_COLUMNS if c not in names]
        if missing:
            yield Rejected(number, f"header lacks {', '.join(missing)}; expected "
                           f"{','.join(CSV_COLUMNS)}", header.rstrip("\r\n")[:TEXT_LIMIT])
            return
        break
    else:
        return
    for number, text in numbered:
        raw = text.rstrip("\r\n")
        if not raw.strip():
            continue
        values = next(csv.reader([raw]), [])
        if len(values) != len(names):
            yield Rejected(number, f"{len(values)} fields where the header has {len(names)}",
                           raw[:TEXT_LIMIT])
            continue
        yield _csv_row(dict(zip(names, values, strict=True)), number, raw[:TEXT_LIMIT])
