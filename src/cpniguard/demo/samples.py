"""Questions worth asking the demo: one per kind of holding, taken from the generator's truth.

Each is the middle of a holding that ended, asked in the ISP's local time with its offset,
so the printed command answers `match` and shows the UTC echo; the CGNAT one is asked with
its port and once without, which must answer `port_required`.
"""

from __future__ import annotations

import csv
import ipaddress
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

_SHARED = ipaddress.IPv4Network("100.64.0.0/10")  # CGNAT inside: asked via the public side
ASK = "cpniguard attribute {target} --at {at} --purpose troubleshooting --reference TKT-{n}"


def _middle(row: dict[str, str], zone: str) -> str:
    start = datetime.fromisoformat(row["start_utc"])
    end = datetime.fromisoformat(row["end_utc"])
    return (start + (end - start) / 2).astimezone(ZoneInfo(zone)).replace(
        microsecond=0).isoformat()


def _first(rows: list[dict[str, str]], source: str, family: str) -> dict[str, str] | None:
    for row in rows:
        long_enough = row["end_utc"] and (datetime.fromisoformat(row["end_utc"])
                                          - datetime.fromisoformat(row["start_utc"])
                                          ).total_seconds() > 3600
        network = ipaddress.ip_network(row["address"])
        if (row["source"] == source and long_enough and network.version == (
                6 if family == "v6" else 4) and not (
                network.version == 4 and network.subnet_of(_SHARED))):
            return row
    return None


def sample_questions(truth: Path, zone: str = "America/New_York") -> list[str]:
    if not truth.is_file():
        return []
    with truth.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    lines = ["Try (as a NOC staff member on the command line, or on the Attribution page):"]
    number = 100200
    for source, family, label in (("radius", "v4", "PPPoE"), ("dhcp", "v4", "DHCP"),
                                  ("radius", "v6", "IPv6 delegated prefix"),
                                  ("nat", "v4", "CGNAT")):
        row = _first(rows, source, family)
        if row is None:
            continue
        at = _middle(row, zone)
        # An address inside a delegated prefix, as a privacy address would be.
        network = ipaddress.ip_network(row["address"])
        address = str(network.network_address + (0x1234 if network.num_addresses > 1 else 0))
        number += 1
        if source == "nat":
            port = (int(row["port_first"]) + int(row["port_last"])) // 2
            lines.append(f"  {label}, with the port:    "
                         + ASK.format(target=f"{address}:{port}", at=at, n=number))
            lines.append(f"  {label}, without it:        "
                         + ASK.format(target=address, at=at, n=number))
        else:
            lines.append(f"  {label}: " + ASK.format(target=address, at=at, n=number))
    return lines if len(lines) > 1 else []
