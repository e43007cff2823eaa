"""Fictional CSV rows for import tests: RFC 2606 emails, 555-01XX phones, RFC 5737 addresses."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path

HEADER = (
    "account_number", "status", "kind", "first_name", "last_name", "business_name",
    "service_started", "billing_line1", "billing_line2", "billing_city", "billing_state",
    "billing_postal_code", "service_line1", "service_line2", "service_city", "service_state",
    "service_postal_code", "phone", "email", "payment_method", "processor", "processor_token",
    "card_last4", "plan", "down_mbps", "up_mbps", "voip_number", "static_ip", "router_model",
    "router_serial", "router_mac",
)
TOWNS = (("Millbrook", "VT", "05660"), ("Cedar Hollow", "VT", "05671"),
         ("Wheatland", "KS", "67451"))


def good_row(n: int) -> dict[str, str]:
    """Row number n of a valid file; every third is a business with a static address."""
    town, state, zip_code = TOWNS[n % len(TOWNS)]
    business = n % 3 == 0
    area = "802" if state == "VT" else "785"
    return {
        "account_number": f"B{2000000 + n}", "status": "active",
        "kind": "business" if business else "residential",
        "first_name": "Robin", "last_name": f"Tester{n % 97}",
        "business_name": f"{town} Feed & Seed" if business else "",
        "service_started": f"20{10 + n % 15}-0{1 + n % 9}-1{n % 10}",
        "billing_line1": f"PO Box {100 + n % 800}" if n % 7 == 0 else "",
        "billing_line2": "", "billing_city": town if n % 7 == 0 else "",
        "billing_state": state if n % 7 == 0 else "",
        "billing_postal_code": zip_code if n % 7 == 0 else "",
        "service_line1": f"{10 + n % 900} Orchard Hill Rd", "service_line2": "",
        "service_city": town, "service_state": state, "service_postal_code": zip_code,
        "phone": f"({area}) 555-01{n % 100:02d}" + (f";+1{area}55501{(n + 7) % 100:02d}"
                                                    if n % 4 == 0 else ""),
        "email": f"robin.tester{n}@example.net",
        "payment_method": "card", "processor": "ExamplePay",
        "processor_token": f"tok_{'abcdefgh'[n % 8]}x{n:x}q", "card_last4": "4242",
        "plan": "Fiber 300", "down_mbps": "300", "up_mbps": "300",
        "voip_number": f"+1{area}55501{(n + 3) % 100:02d}" if n % 3 == 1 else "",
        "static_ip": f"203.0.113.{1 + n % 250}" if business and n < 750 else "",
        "router_model": "EX-AX1800", "router_serial": f"EXR{n:05X}Q",
        "router_mac": f"02:00:5e:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}",
    }


def write_csv(path: Path, rows: Iterable[dict[str, str]],
              header: Iterable[str] = HEADER) -> Path:
    columns = list(header)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore",
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path
