"""Which data category every field of a customer record belongs to, and how a record is shown
to someone whose purpose needs only some categories: the rest is masked, not sent."""

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


def _section(subscriber: Subscriber, category: str, interactions: int) -> Any:
    if category == "account":
        return {"account_number": subscriber.account_number, "status": subscriber.status,
                "kind": subscriber.kind,
                "service_started": subscriber.service_started.isoformat()}
    if category == "name":
        return {"first_name": subscriber.first_name, "last_name": subscriber.last_name,
                "business_name": subscriber.business_name}
    if category == "billing_address":
        return _address(subscriber, Address.Kind.BILLING)
    if category == "service_address":
        return _address(subscriber, Address.Kind.SERVICE)
    if category == "phone":
        return [{"number": p.number, "label": p.label, "primary": p.primary}
                for p in subscriber.phones.all()]
    if category == "email":
        return [{"address": e.address, "primary": e.primary} for e in subscriber.emails.all()]
    if category == "billing_info":
        billing = getattr(subscriber, "billing", None)
        if billing is None:
            return None
        return {"method": billing.method, "processor": billing.processor,
                "processor_token": billing.processor_token, "last4": billing.last4,
                "balance_cents": billing.balance_cents, "autopay": billing.autopay}
    if category == "services":
        return {
            "services": [{"kind": s.kind, "plan": s.plan, "down_mbps": s.down_mbps,
                          "up_mbps": s.up_mbps, "voip_number": s.voip_number,
                          "static_ip": s.static_ip, "started": s.started.isoformat(),
                          "ended": s.ended.isoformat() if s.ended else None}
                         for s in subscriber.services.all()],
            "equipment": [{"kind": e.kind, "model": e.model, "serial": e.serial, "mac": e.mac}
                          for e in subscriber.equipment.all()],
        }
    if category == "interactions":
        return [{"id": i.pk, "ticket": i.ticket, "channel": i.channel, "summary": i.summary,
                 "staff": i.staff, "created": i.created.isoformat()}
                for i in subscriber.interactions.all()[:interactions]]
    raise KeyError(category)


def present(subscriber: Subscriber, granted: frozenset[str],
            interactions: int = 50) -> dict[str, Any]:
    """The record with only the granted categories filled in; every other one masked."""
    view: dict[str, Any] = {"id": subscriber.pk}
    for category in FIELDS:
        view[category] = _section(subscriber, category, interactions) if category in granted \
            else None
    view["masked"] = sorted(RECORD_CATEGORIES - granted)
    return view


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
