"""What the demo's legal requests name: real holdings from the generated logs, and the
fictional agencies, courts and people who send them.

An IP target is only worth asking about if the logs answer it, so targets come from the
generator's truth.csv (the same file `samples.py` reads): the middle of a holding that ended
and lasted over an hour, asked in the ISP's local time with its offset. Each holding is used by
one request only while there are enough, so the packages do not repeat one another.

Every agency, court and person here is invented: `.example` domains (RFC 2606) and 555-01xx
telephone numbers.
"""

from __future__ import annotations

import csv
import ipaddress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from cpniguard.demo.samples import _middle

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # CGNAT inside: asked via the public side
MIN_SECONDS = 3600
FORMAT = "cpniguard-legal-request/1"
ADDRESSED_TO = "Example Rural Broadband, Inc."


class NotEnoughLogs(ValueError):
    """truth.csv has no holding of a kind a request needs."""


@dataclass(frozen=True, slots=True)
class Holding:
    source: str        # radius, dhcp or nat (truth.csv's names)
    address: str       # the address as asked, without a port
    port: int | None   # a port inside the block, for a CGNAT holding
    at: str            # the instant asked, local time with its offset
    start: datetime    # the holding as the truth records it (UTC)

    def target(self, *, with_port: bool = True) -> dict[str, str]:
        value = f"{self.address}:{self.port}" if with_port and self.port else self.address
        return {"kind": "ip", "value": value, "at": self.at}


class Holdings:
    """Holdings by kind ("radius", "dhcp", "nat", "v6"), oldest first."""

    def __init__(self, truth: Path, zone: str) -> None:
        rows: list[dict[str, str]] = []
        if truth.is_file():  # no logs (a demo of one subscriber): only IP cases are skipped
            with truth.open(newline="", encoding="utf-8") as handle:
                rows = list(csv.DictReader(handle))
        self.zone = zone
        self.pools: dict[str, list[Holding]] = {"radius": [], "dhcp": [], "nat": [], "v6": []}
        self.taken: dict[str, int] = {}
        seen: set[str] = set()
        for row in sorted(rows, key=lambda r: r["start_utc"]):
            holding = self._holding(row)
            if holding is not None and holding.address not in seen:
                seen.add(holding.address)
                kind = "v6" if ":" in holding.address else holding.source
                self.pools.setdefault(kind, []).append(holding)
        self.first_day: date | None = min(
            (h.start.date() for pool in self.pools.values() for h in pool), default=None)

    def _holding(self, row: dict[str, str]) -> Holding | None:
        if not row["end_utc"]:
            return None
        start, end = (datetime.fromisoformat(row[k]) for k in ("start_utc", "end_utc"))
        if (end - start).total_seconds() <= MIN_SECONDS:
            return None
        network = ipaddress.ip_network(row["address"])
        if network.version == 4 and network.subnet_of(_SHARED):
            return None
        # An address inside a delegated prefix, as a privacy address would be.
        address = network.network_address + (0x1234 if network.num_addresses > 1 else 0)
        port = None
        if row["source"] == "nat" and row["port_first"]:
            port = (int(row["port_first"]) + int(row["port_last"])) // 2
        return Holding(row["source"], str(address), port, _middle(row, self.zone),
                       start.astimezone(UTC))

    def take(self, kind: str) -> Holding:
        """The next unused holding of a kind; a small demo reuses them once all are used."""
        pool = self.pools.get(kind) or []
        if not pool:
            raise NotEnoughLogs(f"the demo logs have no {kind} holding to name")
        taken = self.taken.get(kind, 0)
        self.taken[kind] = taken + 1
        return pool[taken % len(pool)]


@dataclass(frozen=True, slots=True)
class Sender:
    """Who serves a request: an invented agency, its court and its agent."""

    authority: str
    court: str
    agent: str
    contact: str
    verified_by: str


SHERIFF = Sender(
    "Hartwell County Sheriff's Office", "",
    "Sergeant Avery Lindqvist", "dispatch@sheriff.hartwell.example",
    "called back on the sheriff's published dispatch line, (802) 555-0171")
GRAND_JURY = Sender(
    "Office of the State's Attorney for Hartwell County (grand jury)",
    "Hartwell County Superior Court, Criminal Division",
    "Investigator Casey Fenwick", "c.fenwick@sao.hartwell.example",
    "called back on the office's published main number, (802) 555-0134")
STATE_AG = Sender(
    "Office of the Attorney General of the State of Example, Consumer Protection Unit",
    "", "Investigator Jordan Ashby", "j.ashby@ag.state.example",
    "confirmed by email to the unit's published address")
FEDERAL = Sender(
    "Example Task Force on Network Fraud",
    "United States District Court for the District of Example",
    "Special Agent Rowan Marchetti", "r.marchetti@taskforce.example",
    "called back on the task force's published number, (802) 555-0158")
LABEL = Sender(
    "Clerk of the United States District Court for the District of Example, on behalf of "
    "Northwind Records LLC", "United States District Court for the District of Example",
    "Robin Okafor, counsel for Northwind Records LLC", "r.okafor@northwind-law.example",
    "checked against the court's docket entry")
DEFENSE = Sender(
    "Hartwell County Superior Court (subpoena issued at the request of the defense)",
    "Hartwell County Superior Court, Criminal Division",
    "Dale Whitcomb, public defender", "d.whitcomb@defender.hartwell.example",
    "called back on the public defender's published number, (802) 555-0162")


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def zulu(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def document(kind: str, sender: Sender, case_number: str, today: date, *,
             targets: list[dict[str, str]], categories: list[str], due_in: int,
             date_range: tuple[datetime, datetime] | None, notes: str,
             **extra: Any) -> dict[str, Any]:
    """A request as the agency would send it, in the desk's documented format."""
    # Served this morning, or two hours ago if the demo runs before then.
    served = min(datetime.combine(today, time(9, 40), tzinfo=UTC),
                 datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=2))
    body: dict[str, Any] = {
        "format": FORMAT, "kind": kind, "issuing_authority": sender.authority,
        "case_number": case_number,
        "agent": {"name": sender.agent, "contact": sender.contact,
                  "verified_by": sender.verified_by},
        "addressed_to": ADDRESSED_TO, "signed": True,
        "issued": (today - timedelta(days=2)).isoformat(), "served": zulu(served),
        "response_due": (today + timedelta(days=due_in)).isoformat(),
        "targets": targets,
        "nondisclosure": {"ordered": False, "until": None}, "documents": [], "notes": notes,
    }
    if categories:  # a preservation letter names none: it freezes, it does not ask
        body["categories"] = categories
    if sender.court:
        body["court"] = sender.court
    if date_range is not None:
        body["date_range"] = {"from": zulu(date_range[0]), "to": zulu(date_range[1])}
    body.update(extra)
    return body


def certification_pdf(sender: Sender, served: date) -> bytes:
    """The emergency certification the sheriff's office faxes with its request (invented)."""
    import io

    from reportlab.lib.pagesizes import LETTER
    from reportlab.pdfgen.canvas import Canvas

    out = io.BytesIO()
    page = Canvas(out, pagesize=LETTER, invariant=1, pageCompression=0)
    lines = [sender.authority, "Emergency disclosure request: certification", "",
             f"I, {sender.agent}, certify on {served.isoformat()} that this request involves "
             "an emergency",
             "involving danger of death or serious physical injury to a person, and that the",
             "information requested is needed without delay (18 U.S.C. 2702(b)(8), (c)(4)).",
             "", f"Signed: {sender.agent}   Contact: {sender.contact}"]
    text = page.beginText(72, 700)
    for line in lines:
        text.textLine(line)
    page.drawText(text)
    page.showPage()
    page.save()
    return out.getvalue()

