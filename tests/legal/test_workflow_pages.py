"""The workflow buttons of a request's page: each a POST through legal.workflow, shown only to
whoever may take the step now, refusals shown and audited; the list's deadlines."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from cpniguard.access import Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.legal.intake import take_in
from cpniguard.legal.models import LegalRequest
from cpniguard.policy import Policy
from tests.legal.test_intake_form import signed_in

pytestmark = pytest.mark.django_db


def steps_on(client: Client, reference: str) -> set[str]:
    html = client.get(f"/legal/{reference}/").content.decode()
    return {name for name in ("validate", "revalidate", "approve", "narrow", "reject",
                              "withdraw", "close") if f'data-testid="step-{name}"' in html}


def step(client: Client, reference: str, name: str, **data: Any) -> str:
    answer = client.post(f"/legal/{reference}/steps/{name}/", data, follow=True)
    assert answer.status_code == 200
    return answer.content.decode()


@pytest.fixture
def people(policy: Policy, make_staff: Callable[..., StaffUser]) -> tuple[Client, Client]:
    return (signed_in(make_staff("custodian", "dana"), policy),
            signed_in(make_staff("counsel", "casey"), policy))


def test_two_people_approve_through_the_buttons_and_nobody_twice(
        people: tuple[Client, Client], subpoena: dict[str, Any]) -> None:
    dana, casey = people
    reference = take_in(Actor("dana", "custodian", Channel.WEB), subpoena)["reference"]
    assert steps_on(dana, reference) == {"validate", "narrow", "reject", "withdraw"}
    assert steps_on(casey, reference) == set()
    html = step(dana, reference, "validate")
    assert "Start validation: done. Now validating." in html
    assert steps_on(dana, reference) == {"revalidate", "approve", "narrow", "reject",
                                         "withdraw"}
    html = step(dana, reference, "approve", note="checked against the paper")
    assert "Now validating; approved by dana (custodian)." in html
    assert "approve" not in steps_on(dana, reference)
    # A stale page's second click: the service refuses it, the page says why, it is audited.
    html = step(dana, reference, "approve")
    assert "Not done: dana has already approved" in html
    assert AuditEntry.objects.filter(event="legal:request:approve", actor="dana",
                                     outcome="refused").count() == 1
    assert steps_on(casey, reference) == {"approve"}
    html = step(casey, reference, "approve")
    assert "Now approved; approved by dana (custodian), casey (counsel)." in html
    assert "<strong>dana</strong>" in html
    assert "<strong>casey</strong>" in html
    assert LegalRequest.objects.get(reference=reference).status == "approved"
    assert steps_on(dana, reference) == {"withdraw"}
    # Counsel has no `change` grant: a forged POST is the policy's refusal page, audited.
    assert casey.post(f"/legal/{reference}/steps/withdraw/").status_code == 403
    assert AuditEntry.objects.filter(event="legal:request:change", actor="casey",
                                     outcome="refused").exists()
    assert dana.post(f"/legal/{reference}/steps/teleport/").status_code == 404
    assert dana.get(f"/legal/{reference}/steps/withdraw/").status_code == 405


def test_reject_needs_reasons_then_closes_and_narrow_and_withdraw_are_recorded(
        people: tuple[Client, Client], subpoena: dict[str, Any]) -> None:
    dana, _ = people
    actor = Actor("dana", "custodian", Channel.WEB)
    broad = take_in(actor, {**subpoena, "categories": ["name", "interactions"]})["reference"]
    html = step(dana, broad, "reject")
    assert "Not done: a rejection needs its reasons" in html
    html = step(dana, broad, "reject", note="a subpoena cannot compel staff interactions")
    assert "Now rejected." in html
    assert 'data-testid="letter"' in html
    assert steps_on(dana, broad) == {"close"}
    assert "Now closed." in step(dana, broad, "close")
    narrowed = take_in(actor, {**subpoena, "categories": ["name", "interactions"]})["reference"]
    html = step(dana, narrowed, "narrow", categories=["name"], note="interactions refused")
    assert LegalRequest.objects.get(reference=narrowed).scope == ["name"]
    assert "Partial-compliance letter" in html
    assert "Now withdrawn." in step(dana, narrowed, "withdraw", note="the agency withdrew it")
    history = LegalRequest.objects.get(reference=narrowed).transitions.order_by("id")
    assert [t.to_status for t in history] == ["received", "received", "withdrawn"]
    assert "the agency withdrew it" in history.last().note  # type: ignore[union-attr]


def test_the_manifest_needs_a_sealed_package_and_the_desk(
        people: tuple[Client, Client], subpoena: dict[str, Any], policy: Policy,
        make_staff: Callable[..., StaffUser]) -> None:
    dana, _ = people
    reference = take_in(Actor("dana", "custodian", Channel.WEB), subpoena)["reference"]
    html = dana.get(f"/legal/{reference}/manifest/", follow=True).content.decode()
    assert f"{reference} has no sealed package yet" in html
    support = signed_in(make_staff("support", "sam"), policy)
    assert support.get(f"/legal/{reference}/manifest/").status_code == 403
    assert support.post(f"/legal/{reference}/steps/validate/").status_code == 403
    assert dana.get("/legal/LR-2026-0999/manifest/").status_code == 404


def test_the_list_offers_intake_and_says_how_late(
        people: tuple[Client, Client], subpoena: dict[str, Any]) -> None:
    dana, casey = people
    actor = Actor("dana", "custodian", Channel.WEB)
    take_in(actor, {**subpoena, "response_due": "2020-01-05"})
    take_in(actor, {**subpoena, "response_due": "2099-01-05"})
    html = dana.get("/legal/").content.decode()
    assert 'data-testid="new-request"' in html
    assert "1 request overdue: listed first." in html
    assert html.index("days late") < html.index("2099-01-05")
    assert 'class="entry-refused overdue"' in html
    assert 'data-testid="new-request"' not in casey.get("/legal/").content.decode()
    assert casey.get("/legal/new/").status_code == 403
