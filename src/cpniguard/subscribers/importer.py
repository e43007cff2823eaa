"""Importing subscribers from a CSV file: `cpniguard subscribers import FILE.csv`.

The file is UTF-8 (a spreadsheet's byte-order mark is accepted), comma-separated, with a header
row naming the columns on line 1 and one subscriber per row after it. Column order is free;
columns marked * are required, the others may be left out of the header or left empty.

    account_number *     unique account number, at most 16 characters
    status               active (default), suspended or closed
    kind                 residential (default) or business
    first_name *         of the account holder (a business's contact person)
    last_name *
    business_name        required when kind is business
    service_started *    ISO date, YYYY-MM-DD; also the start date of every service below
    billing_line1        billing address; leave all billing_* empty when bills go to the
    billing_line2          service address (the service address is then stored as billing
    billing_city           address too, because the two are separate data categories)
    billing_state          two-letter state code
    billing_postal_code    ZIP or ZIP+4
    service_line1 *      service address: where the service is delivered
    service_line2
    service_city *
    service_state *
    service_postal_code *
    phone                +1 NANP numbers, several separated by ";", the first is primary;
                           punctuation such as (802) 555-0142 is accepted
    email                email addresses, several separated by ";", the first is primary
    payment_method       card, bank or invoice; empty means no billing information
    processor            payment processor holding the card or account, e.g. ExamplePay
    processor_token      the processor's token for the card or account (never the number)
    card_last4           last four digits of the card or bank account
    plan                 broadband plan name, e.g. "Fiber 300"; empty means no broadband
    down_mbps            broadband speeds, whole megabits per second
    up_mbps
    voip_number          telephone number of a VoIP line, if the subscriber has one
    static_ip            static IPv4 or IPv6 address, if the subscriber has one
    router_model         router on loan to the subscriber; empty means none
    router_serial
    router_mac           MAC address, e.g. 02:00:5e:10:00:42

Every row is validated before anything is written: the model validation the web UI applies,
plus duplicate account numbers and static addresses (within the file and against the
database), dates, and a search of every free-text cell for a full card or bank account number
(12-19 digits passing the Luhn check, or 8 or more digits in a row; account numbers are only
checked for card numbers), which is refused without repeating the number. If any row is bad,
nothing is written. Otherwise every row is written in one transaction, through the access
gate as an `import` of the categories the file holds, which writes one audit entry naming the
file's SHA-256 and the number of subscribers.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.db import models

from cpniguard.access import Actor, access
from cpniguard.audit.models import Outcome
from cpniguard.policy import Action
from cpniguard.subscribers.csv_rows import COLUMNS, REQUIRED, Row, parse_row
from cpniguard.subscribers.models import (
    Address,
    BillingInfo,
    Email,
    Equipment,
    Phone,
    Service,
    Subscriber,
)

RESOURCE = "subscriber:record"
# Rows per INSERT statement: enough to amortise round trips; Django splits further where the
# database limits bound parameters.
BATCH = 500
CHILD_MODELS: tuple[type[models.Model], ...] = (Address, Phone, Email, BillingInfo, Service,
                                                Equipment)


@dataclass
class RowError:
    line: int
    reason: str


@dataclass
class ImportPlan:
    """The outcome of validating a file: what would be written, or why it cannot be."""

    path: str
    sha256: str
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    @property
    def fields(self) -> frozenset[str]:
        """Catalog fields the import writes: every column that has a value in some row.

        Rows without billing columns store their service address as billing address too.
        """
        written = {COLUMNS[name] for name in self.columns}
        return frozenset(written | {name.replace("service_address.", "billing_address.")
                                    for name in written if name.startswith("service_address.")})

    @property
    def categories(self) -> frozenset[str]:
        names = {name.split(".")[0] for name in self.fields} | {"billing_address"}
        # Equipment is part of the "services" category (see catalog.FIELDS).
        return frozenset("services" if name == "equipment" else name for name in names)


def _header_errors(header: list[str]) -> list[str]:
    reasons = []
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        reasons.append(f"unknown column(s) {', '.join(unknown)}; see --help for the layout")
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        reasons.append(f"column(s) {', '.join(duplicated)} appear more than once")
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        reasons.append(f"missing required column(s) {', '.join(missing)}")
    return reasons


def read_plan(path: Path, progress: Callable[[int], None] | None = None) -> ImportPlan:
    """Parse and validate a whole file without touching the database.

    Duplicates against the database are checked later, inside the access block of the import
    (`run_import`), because looking account numbers up is a read.
    """
    raw = path.read_bytes()
    plan = ImportPlan(str(path), hashlib.sha256(raw).hexdigest())
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        plan.errors.append(RowError(1, f"not UTF-8 text (byte {error.start})"))
        return plan
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in next(reader, [])]
    reasons = _header_errors(header) if header else ["empty file: no header row"]
    if reasons:
        plan.errors.extend(RowError(1, reason) for reason in reasons)
        return plan
    used: set[str] = set()
    seen_accounts: dict[str, int] = {}
    seen_ips: dict[str, int] = {}
    previous_end = reader.line_num
    for values in reader:
        # A record starts on the line after the previous one ended (quoted cells may span
        # lines), so this is the physical line a spreadsheet or editor shows.
        line, previous_end = previous_end + 1, reader.line_num
        if not values or all(not value.strip() for value in values):
            continue
        if progress is not None:
            progress(1)
        if len(values) != len(header):
            plan.errors.append(RowError(line, f"has {len(values)} cells, the header has "
                                              f"{len(header)}"))
            continue
        cells = dict.fromkeys(COLUMNS, "") | {
            name: value.strip() for name, value in zip(header, values, strict=True)
        }
        outcome = parse_row(line, cells)
        problems = outcome if isinstance(outcome, dict) else {}
        account = cells["account_number"]
        if account and account in seen_accounts:
            problems.setdefault("account_number", f"duplicate of line {seen_accounts[account]}")
        seen_accounts.setdefault(account, line)
        address = cells["static_ip"]
        if address and address in seen_ips:
            problems.setdefault("static_ip", f"also assigned on line {seen_ips[address]}")
        seen_ips.setdefault(address, line)
        if problems:
            plan.errors.append(RowError(line, "; ".join(
                f"{column}: {reason}" for column, reason in problems.items())))
        elif isinstance(outcome, Row):
            plan.rows.append(outcome)
            used.update(name for name, value in cells.items() if value)
    plan.columns = [name for name in COLUMNS if name in used]
    if not plan.rows and not plan.errors:
        plan.errors.append(RowError(1, "no subscriber rows after the header"))
    return plan


@dataclass
class ImportResult:
    plan: ImportPlan
    imported: int = 0
    dry_run: bool = False
    not_granted: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return not self.plan.errors and not self.not_granted


def _already_stored(plan: ImportPlan) -> list[RowError]:
    """Rows whose account number or static address the database already holds."""
    errors = []
    accounts = {row.subscriber.account_number: row.line for row in plan.rows}
    addresses = {ip: row.line for row in plan.rows for ip in row.static_ips}
    account_list, address_list = list(accounts), list(addresses)
    for start in range(0, len(account_list), BATCH):
        taken = Subscriber.objects.filter(account_number__in=account_list[start:start + BATCH])
        errors += [RowError(accounts[number], "account_number: already exists in the database")
                   for number in taken.values_list("account_number", flat=True)]
    for start in range(0, len(address_list), BATCH):
        taken_ips = Service.objects.filter(static_ip__in=address_list[start:start + BATCH])
        errors += [RowError(addresses[ip], "static_ip: already assigned to another subscriber")
                   for ip in taken_ips.values_list("static_ip", flat=True) if ip]
    return errors


def _write(plan: ImportPlan, progress: Callable[[int], None] | None) -> None:
    subscribers = [row.subscriber for row in plan.rows]
    for start in range(0, len(subscribers), BATCH):
        # The returned primary keys are set on the instances; each child's foreign key
        # picks its parent's key up when the child is inserted below.
        Subscriber.objects.bulk_create(subscribers[start:start + BATCH])
        if progress is not None:
            progress(len(subscribers[start:start + BATCH]))
    children: dict[type[models.Model], list[models.Model]] = {m: [] for m in CHILD_MODELS}
    for row in plan.rows:
        for child in row.children:
            children[type(child)].append(child)
    for model, objects in children.items():
        model._default_manager.bulk_create(objects, batch_size=BATCH)


def run_import(plan: ImportPlan, actor: Actor, *, purpose: str, reference: str | None,
               dry_run: bool = False, progress: Callable[[int], None] | None = None
               ) -> ImportResult:
    """Write a validated plan through the access gate, all rows or none.

    Raises `AccessRefused` (already audited) when the policy does not let the actor import.
    The audit entry names the file's SHA-256 and the number of rows, never a value from it.
    A dry run opens the gate too, because checking account numbers against the database is
    a read of account data.
    """
    if plan.errors:
        raise ValueError("the plan has errors; nothing may be written")
    subject = f"import:{plan.sha256}"
    result = ImportResult(plan, dry_run=dry_run)
    with access(actor, Action.IMPORT, resource=RESOURCE, purpose=purpose, reference=reference,
                subject=subject, categories=plan.categories) as permit:
        permit.touched(["account.account_number"])
        if any(row.static_ips for row in plan.rows):
            permit.touched(["services.static_ip"])
        result.not_granted = permit.decision.masked
        if result.not_granted:
            # A partial grant would silently drop data the file holds; refuse the whole file.
            permit.outcome = Outcome.FAILED
            permit.about(f"{subject}/not-granted:{','.join(sorted(result.not_granted))}")
            return result
        plan.errors.extend(_already_stored(plan))
        if plan.errors:
            plan.errors.sort(key=lambda error: error.line)
            permit.outcome = Outcome.FAILED
            permit.about(f"{subject}/rejected-rows:{len(plan.errors)}")
            return result
        if dry_run:
            permit.about(f"{subject}/dry-run-rows:{len(plan.rows)}")
            return result
        _write(plan, progress)
        permit.touched(plan.fields)
        permit.about(f"{subject}/rows:{len(plan.rows)}")
        result.imported = len(plan.rows)
    return result
