"""One CSV row of a subscriber import: the columns, and turning a row into unsaved records.

The layout itself is documented in `cpniguard.subscribers.importer`. Everything here is pure
validation; nothing touches the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import models

from cpniguard.subscribers.models import (
    Address,
    BillingInfo,
    Email,
    Equipment,
    Phone,
    Service,
    Subscriber,
)
from cpniguard.subscribers.validators import looks_like_full_account_number, luhn_valid

ADDRESS_PARTS = ("line1", "line2", "city", "state", "postal_code")
# Column -> the catalog field it fills ("section.field"), which is also its data category.
COLUMNS: dict[str, str] = {
    "account_number": "account.account_number",
    "status": "account.status",
    "kind": "account.kind",
    "first_name": "name.first_name",
    "last_name": "name.last_name",
    "business_name": "name.business_name",
    "service_started": "account.service_started",
    **{f"billing_{part}": f"billing_address.{part}" for part in ADDRESS_PARTS},
    **{f"service_{part}": f"service_address.{part}" for part in ADDRESS_PARTS},
    "phone": "phone.number",
    "email": "email.address",
    "payment_method": "billing_info.method",
    "processor": "billing_info.processor",
    "processor_token": "billing_info.processor_token",
    "card_last4": "billing_info.last4",
    "plan": "services.plan",
    "down_mbps": "services.down_mbps",
    "up_mbps": "services.up_mbps",
    "voip_number": "services.voip_number",
    "static_ip": "services.static_ip",
    "router_model": "equipment.model",
    "router_serial": "equipment.serial",
    "router_mac": "equipment.mac",
}
REQUIRED = ("account_number", "first_name", "last_name", "service_started", "service_line1",
            "service_city", "service_state", "service_postal_code")
# Cells that are checked strictly for their own format, which a card number cannot pass; the
# account-number heuristic would otherwise refuse every telephone number (11 digits).
STRICT_FORMAT = frozenset({"phone", "voip_number", "service_started", "down_mbps", "up_mbps",
                           "static_ip"})
ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
# Many ISPs number accounts with eight or more digits, which the bank-number heuristic cannot
# tell from a bank account; the account number is therefore only checked for card numbers.
CARD_ONLY = frozenset({"account_number"})
DIGIT_RUN = re.compile(r"[0-9][0-9 \-]{10,}[0-9]")
# Model field of each child record -> the column it came from, to name the column in errors.
FIELD_COLUMN: dict[type[models.Model], dict[str, str]] = {
    Subscriber: {name: name for name in COLUMNS},
    Phone: {"number": "phone"},
    Email: {"address": "email"},
    BillingInfo: {"method": "payment_method", "processor": "processor",
                  "processor_token": "processor_token", "last4": "card_last4"},
    Service: {"plan": "plan", "down_mbps": "down_mbps", "up_mbps": "up_mbps",
              "voip_number": "voip_number", "static_ip": "static_ip"},
    Equipment: {"model": "router_model", "serial": "router_serial", "mac": "router_mac"},
}


@dataclass
class Row:
    """One validated subscriber and the records that belong to it, not yet saved."""

    line: int
    subscriber: Subscriber
    children: list[models.Model]
    static_ips: list[str]


def normalize_phone(value: str) -> str:
    """'(802) 555-0142', '802.555.0142' and '+1 802 555 0142' all become '+18025550142'."""
    digits = re.sub(r"[^0-9]", "", value)
    if len(digits) == 10:
        digits = "1" + digits
    return "+" + digits if value.strip() else ""


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _model_errors(instance: models.Model, problems: dict[str, str],
                  columns: dict[str, str]) -> None:
    """Run the model's own validation; report each problem under the CSV column it came from."""
    try:
        instance.full_clean(exclude=["subscriber"], validate_unique=False,
                            validate_constraints=False)
    except ValidationError as error:
        for name, messages in error.message_dict.items():
            column = columns.get(name, name)
            problems.setdefault(column, " ".join(messages).rstrip("."))


def _choice(value: str, choices: list[str], default: str, column: str,
            problems: dict[str, str]) -> str:
    # Checked here so that the message lists the choices instead of echoing the cell.
    if not value:
        return default
    if value.lower() not in choices:
        problems.setdefault(column, f"must be one of {', '.join(choices)}")
    return value.lower()


def _number(value: str, column: str, problems: dict[str, str]) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        problems.setdefault(column, "must be a whole number")
        return None
    return int(value)


def looks_like_card_number(value: str) -> bool:
    """12-19 digits, spaces or dashes allowed between them, passing the Luhn check."""
    for match in DIGIT_RUN.finditer(value):
        digits = re.sub(r"[ \-]", "", match.group())
        if 12 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return False


def parse_row(line: int, cells: dict[str, str]) -> Row | dict[str, str]:
    """Build the unsaved records of one row, or return the problems found, by column."""
    problems: dict[str, str] = {}
    for column, value in cells.items():
        if column in STRICT_FORMAT:
            continue
        if looks_like_card_number(value) if column in CARD_ONLY \
                else looks_like_full_account_number(value):
            problems[column] = ("looks like a full card or bank account number; only the "
                                "processor token and the last four digits may be imported")
    started: date | None = None
    if not ISO_DATE.match(cells["service_started"]):
        problems.setdefault("service_started", "must be an ISO date (YYYY-MM-DD)")
    else:
        try:
            started = date.fromisoformat(cells["service_started"])
        except ValueError:
            problems.setdefault("service_started", "is not a calendar date")
    kind = _choice(cells["kind"], Subscriber.Kind.values, Subscriber.Kind.RESIDENTIAL, "kind",
                   problems)
    if kind == Subscriber.Kind.BUSINESS and not cells["business_name"]:
        problems.setdefault("business_name", "is required for a business account")
    subscriber = Subscriber(
        account_number=cells["account_number"], first_name=cells["first_name"],
        last_name=cells["last_name"], business_name=cells["business_name"], kind=kind,
        status=_choice(cells["status"], Subscriber.Status.values, Subscriber.Status.ACTIVE,
                       "status", problems),
        service_started=started or date.min,
    )
    _model_errors(subscriber, problems, FIELD_COLUMN[Subscriber])
    children: list[models.Model] = []
    billing_given = any(cells[f"billing_{part}"] for part in ADDRESS_PARTS)
    for kind_of, prefix in ((Address.Kind.SERVICE, "service"),
                            (Address.Kind.BILLING, "billing" if billing_given else "service")):
        address = Address(subscriber=subscriber, kind=kind_of,
                          **{part: cells[f"{prefix}_{part}"] for part in ADDRESS_PARTS})
        address.state = address.state.upper()
        _model_errors(address, problems, {part: f"{prefix}_{part}" for part in ADDRESS_PARTS})
        children.append(address)
    for index, number in enumerate(_split(cells["phone"])):
        children.append(Phone(subscriber=subscriber, number=normalize_phone(number),
                              label="primary" if index == 0 else "other", primary=index == 0))
    for index, address_text in enumerate(_split(cells["email"])):
        children.append(Email(subscriber=subscriber, address=address_text.lower(),
                              primary=index == 0))
    if cells["payment_method"] or cells["processor_token"] or cells["card_last4"]:
        if not cells["payment_method"]:
            problems.setdefault("payment_method", "is required with a processor token or last4")
        method = _choice(cells["payment_method"], BillingInfo.Method.values,
                         BillingInfo.Method.INVOICE, "payment_method", problems)
        if method != BillingInfo.Method.INVOICE and not cells["processor_token"]:
            problems.setdefault("processor_token", f"is required for payment by {method}")
        children.append(BillingInfo(subscriber=subscriber, method=method,
                                    processor=cells["processor"],
                                    processor_token=cells["processor_token"],
                                    last4=cells["card_last4"]))
    down = _number(cells["down_mbps"], "down_mbps", problems)
    up = _number(cells["up_mbps"], "up_mbps", problems)
    day = started or date.min
    if cells["plan"]:
        children.append(Service(subscriber=subscriber, kind=Service.Kind.BROADBAND,
                                plan=cells["plan"], down_mbps=down, up_mbps=up, started=day))
    elif down is not None or up is not None:
        problems.setdefault("plan", "is required when speeds are given")
    business = kind == Subscriber.Kind.BUSINESS
    if cells["voip_number"]:
        children.append(Service(subscriber=subscriber, kind=Service.Kind.VOIP,
                                plan="Business Voice" if business else "Home Voice",
                                voip_number=normalize_phone(cells["voip_number"]), started=day))
    if cells["static_ip"]:
        children.append(Service(subscriber=subscriber, kind=Service.Kind.STATIC_IP,
                                plan="Static IP", static_ip=cells["static_ip"], started=day))
    if cells["router_model"] or cells["router_serial"] or cells["router_mac"]:
        mac = cells["router_mac"].lower().replace("-", ":")
        children.append(Equipment(subscriber=subscriber, kind=Equipment.Kind.ROUTER,
                                  model=cells["router_model"], serial=cells["router_serial"],
                                  mac=mac))
    for child in children[2:]:
        _model_errors(child, problems, FIELD_COLUMN[type(child)])
    if problems:
        return problems
    # Cleaning normalised the addresses (IPv6 to its compressed form), as they will be stored.
    static_ips = [child.static_ip for child in children
                  if isinstance(child, Service) and child.static_ip]
    return Row(line, subscriber, children, static_ips)
