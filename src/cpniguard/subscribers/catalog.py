"""Which data category every field of a customer record belongs to, and what a search result
shows. Loading a whole record for its granted categories is records.py's job."""

from __future__ import annotations

from typing import Any

from cpniguard.subscribers.models import Address, Subscriber

# category -> the fields it covers, as "section.field" names used in views and audit entries.
FIELDS: dict[str, tuple[str, ...]] = {
    "account": ("account.account_number", "account.status", "account.kind",
                "account.service_started"),
    "name": ("name.first_name", "name.last_name", "name.business_name"),
    "billing_address": ("billing_address.line1", "billing_address.line2", "billing_address.city",
                        "billing_address.state", "billing_address.postal_code"),
    "service_address": ("service_address.line1", "service_address.line2", "service_address.city",
                        "service_address.state", "service_address.postal_code"),
    "phone": ("phone.number", "phone.label", "phone.primary"),
    "email": ("email.address", "email.primary"),
    "billing_info": ("billing_info.method", "billing_info.processor",
                     "billing_info.processor_token", "billing_info.last4",
                     "billing_info.balance_cents", "billing_info.autopay"),
    "services": ("services.kind", "services.plan", "services.down_mbps", "services.up_mbps",
                 "services.voip_number", "services.static_ip", "services.started",
                 "services.ended", "equipment.kind", "equipment.model", "equipment.serial",
                 "equipment.mac"),
    "interactions": ("interactions.ticket", "interactions.channel", "interactions.summary",
                     "interactions.staff", "interactions.created"),
}
RECORD_CATEGORIES = frozenset(FIELDS)
CATEGORY_OF = {name: category for category, names in FIELDS.items() for name in names}
# What a search may match on, per category; a search only matches on categories it may see.
SEARCHABLE: dict[str, tuple[str, ...]] = {
    "account": ("account_number",),
    "name": ("last_name", "business_name"),
    "phone": ("phones__number",),
    "email": ("emails__address",),
    "service_address": ("addresses__line1",),
}


def _address(subscriber: Subscriber, kind: str) -> dict[str, Any] | None:
    for address in subscriber.addresses.all():
        if address.kind == kind:
            return {"line1": address.line1, "line2": address.line2, "city": address.city,
                    "state": address.state, "postal_code": address.postal_code}
    return None


def summary(subscriber: Subscriber, granted: frozenset[str]) -> dict[str, Any]:
    """One search result row: account, name, service-address town, as far as granted."""
    row: dict[str, Any] = {"id": subscriber.pk}
    row["account_number"] = subscriber.account_number if "account" in granted else None
    row["name"] = (f"{subscriber.first_name} {subscriber.last_name}".strip()
                   if "name" in granted else None)
    town = None
    if "service_address" in granted:
        address = _address(subscriber, Address.Kind.SERVICE)
        town = f"{address['city']}, {address['state']}" if address else None
    row["service_town"] = town
    return row


def fields_shown(granted: frozenset[str]) -> list[str]:
    return [name for category in sorted(granted & RECORD_CATEGORIES) for name in FIELDS[category]]


SUMMARY_FIELDS = {"account": "account.account_number", "name": "name.last_name",
                  "service_address": "service_address.city"}
