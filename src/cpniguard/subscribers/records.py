"""Loading one customer record for display: only the categories granted, in a few plain queries.

A category the purpose may not see is never even read from the database, so a masking bug in a
template cannot leak it. The queries are fixed SQL built once from the models' metadata rather
than ORM querysets: opening a record is the hottest path of the choke point, and compiling
seven querysets per read cost ten times more than running them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field, Model

from cpniguard.rawsql import driver_cursor, for_driver
from cpniguard.subscribers.models import (
    Address,
    BillingInfo,
    Email,
    Equipment,
    Interaction,
    Phone,
    Service,
    Subscriber,
)

INTERACTIONS_SHOWN = 50


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


def _instant(value: Any) -> str:
    # PostgreSQL returns aware datetimes; SQLite returns the naive UTC text Django stored.
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _text(value: Any) -> Any:
    return None if value is None else str(value)


def _same(value: Any) -> Any:
    return value


Column = tuple[str, str, Callable[[Any], Any]]  # (output key, model field, converter)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.column:
        raise TypeError(f"{model.__name__}.{name} is not a concrete column")
    return str(field.column)


@cache
def _select(model: type[Model], columns: tuple[Column, ...], where: str, tail: str = "") -> str:
    meta, quote = model._meta, connection.ops.quote_name  # "primary" is an SQL keyword
    fields = ", ".join(quote(_column(model, field)) for _, field, _ in columns)
    # Built from model metadata and constants only; values always go in as parameters.
    return f"SELECT {fields} FROM {quote(meta.db_table)} WHERE {where} {tail}"  # noqa: S608


def _rows(cursor: Any, model: type[Model], columns: tuple[Column, ...], where: str,
          params: Sequence[Any], tail: str = "") -> list[dict[str, Any]]:
    cursor.execute(for_driver(_select(model, columns, where, tail)), params)
    return [{key: convert(value) for (key, _, convert), value in zip(columns, row, strict=True)}
            for row in cursor.fetchall()]


ACCOUNT: tuple[Column, ...] = (("account_number", "account_number", _same),
                               ("status", "status", _same), ("kind", "kind", _same),
                               ("service_started", "service_started", _day))
NAME: tuple[Column, ...] = (("first_name", "first_name", _same),
                            ("last_name", "last_name", _same),
                            ("business_name", "business_name", _same))
ADDRESS: tuple[Column, ...] = (("line1", "line1", _same), ("line2", "line2", _same),
                               ("city", "city", _same), ("state", "state", _same),
                               ("postal_code", "postal_code", _same))
PHONE: tuple[Column, ...] = (("number", "number", _same), ("label", "label", _same),
                             ("primary", "primary", bool))
EMAIL: tuple[Column, ...] = (("address", "address", _same), ("primary", "primary", bool))
BILLING: tuple[Column, ...] = (("method", "method", _same), ("processor", "processor", _same),
                               ("processor_token", "processor_token", _same),
                               ("last4", "last4", _same),
                               ("balance_cents", "balance_cents", _same),
                               ("autopay", "autopay", bool))
SERVICE: tuple[Column, ...] = (("kind", "kind", _same), ("plan", "plan", _same),
                               ("down_mbps", "down_mbps", _same),
                               ("up_mbps", "up_mbps", _same),
                               ("voip_number", "voip_number", _same),
                               ("static_ip", "static_ip", _text),
                               ("started", "started", _day), ("ended", "ended", _day))
EQUIPMENT: tuple[Column, ...] = (("kind", "kind", _same), ("model", "model", _same),
                                 ("serial", "serial", _same), ("mac", "mac", _same))
INTERACTION: tuple[Column, ...] = (("id", "id", _same), ("ticket", "ticket", _same),
                                   ("channel", "channel", _same),
                                   ("summary", "summary", _same), ("staff", "staff", _same),
                                   ("created", "created", _instant))
OF_SUBSCRIBER = "subscriber_id = %s"


def _address(cursor: Any, pk: int, kind: str) -> dict[str, Any] | None:
    rows = _rows(cursor, Address, ADDRESS, OF_SUBSCRIBER + " AND kind = %s", (pk, kind))
    return rows[0] if rows else None


def _section(cursor: Any, pk: int, category: str, own: dict[str, Any]) -> Any:
    if category == "account":
        return {key: own[key] for key, _, _ in ACCOUNT}
    if category == "name":
        return {key: own[key] for key, _, _ in NAME}
    if category == "billing_address":
        return _address(cursor, pk, Address.Kind.BILLING)
    if category == "service_address":
        return _address(cursor, pk, Address.Kind.SERVICE)
    if category == "phone":
        return _rows(cursor, Phone, PHONE, OF_SUBSCRIBER, (pk,), "ORDER BY id")
    if category == "email":
        return _rows(cursor, Email, EMAIL, OF_SUBSCRIBER, (pk,), "ORDER BY id")
    if category == "billing_info":
        rows = _rows(cursor, BillingInfo, BILLING, OF_SUBSCRIBER, (pk,))
        return rows[0] if rows else None
    if category == "services":
        return {
            "services": _rows(cursor, Service, SERVICE, OF_SUBSCRIBER, (pk,), "ORDER BY id"),
            "equipment": _rows(cursor, Equipment, EQUIPMENT, OF_SUBSCRIBER, (pk,),
                               "ORDER BY id"),
        }
    if category == "interactions":
        return _rows(cursor, Interaction, INTERACTION, OF_SUBSCRIBER, (pk,),
                     f"ORDER BY created DESC, id DESC LIMIT {INTERACTIONS_SHOWN}")
    raise KeyError(category)


def load_record(pk: int, granted: frozenset[str], categories: Sequence[str]
                ) -> dict[str, Any] | None:
    """The record as `{category: section or None, "masked": [...]}`, or None if there is none.

    `categories` gives every category of a record (and the order of the result); those not in
    `granted` are None and listed under "masked".
    """
    cursor = driver_cursor()
    try:
        own = _rows(cursor, Subscriber, ACCOUNT + NAME, "id = %s", (pk,))
        if not own:
            return None
        view: dict[str, Any] = {"id": pk}
        for category in categories:
            view[category] = (_section(cursor, pk, category, own[0]) if category in granted
                              else None)
    finally:
        cursor.close()
    view["masked"] = sorted(set(categories) - granted)
    return view
