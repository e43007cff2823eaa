"""Every stored field of a customer record carries a data category of the policy."""

from __future__ import annotations

from django.db.models import Model

from cpniguard.policy import Policy
from cpniguard.subscribers import catalog
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

# model -> the section its fields are shown under (addresses by their kind)
SECTIONS: dict[type[Model], tuple[str, ...]] = {
    Subscriber: ("account", "name"),
    Address: ("billing_address", "service_address"),
    Phone: ("phone",),
    Email: ("email",),
    BillingInfo: ("billing_info",),
    Service: ("services",),
    Equipment: ("equipment",),
    Interaction: ("interactions",),
}
NOT_DATA = {"id", "subscriber", "kind@Address", "created@Subscriber"}


def test_every_stored_field_has_a_category(policy: Policy) -> None:
    for model, sections in SECTIONS.items():
        for field in model._meta.concrete_fields:
            if field.name in NOT_DATA or f"{field.name}@{model.__name__}" in NOT_DATA:
                continue
            names = {f"{section}.{field.name}" for section in sections}
            categories = {catalog.CATEGORY_OF[n] for n in names if n in catalog.CATEGORY_OF}
            assert categories, f"{model.__name__}.{field.name} has no data category"
            assert categories <= policy.categories.keys()
            assert all(policy.categories[c].cpni for c in categories)


def test_billing_and_service_addresses_are_different_categories() -> None:
    billing = {catalog.CATEGORY_OF[f"billing_address.{f}"] for f in ("line1", "city")}
    service = {catalog.CATEGORY_OF[f"service_address.{f}"] for f in ("line1", "city")}
    assert billing == {"billing_address"}
    assert service == {"service_address"}
