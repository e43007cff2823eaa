"""The desk's pages: the same service as the CLI and the API, under the CSP, refusals audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from cpniguard.access import Actor, Channel
from cpniguard.accounts.models import StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.audit.models import AuditEntry
from cpniguard.legal.intake import take_in
from cpniguard.policy import Policy

pytestmark = pytest.mark.django_db


def browser_for(user: StaffUser, policy: Policy) -> Client:
    client = Client()
    client.force_login(user)
    if policy.roles[user.role].second_factor:
        session = client.session
        session[SESSION_KEY] = True
        session.save()
    return client


def test_custodian_sees_the_desk_overdue_flagged_and_one_request(
        policy: Policy, subpoena: dict[str, Any],
        make_staff: Callable[..., StaffUser]) -> None:
    dana = make_staff("custodian", "dana")
    late = take_in(Actor("dana", "custodian", Channel.CLI),
                   {**subpoena, "response_due": "2026-01-05"})["reference"]
    browser = browser_for(dana, policy)
    page = browser.get("/legal/")
    assert page.status_code == 200
    html = page.content.decode()
    assert late in html
    assert 'data-testid="overdue"' in html
    assert "Legal desk</a>" in html  # the menu offers it to the custodian
    detail = browser.get(f"/legal/{late}/").content.decode()
    assert "198.51.100.7:40001" in detail
    assert "2026-11-18T20:05:03+00:00" in detail
    assert "<script>" not in detail
    assert "style=" not in detail
    reads = AuditEntry.objects.filter(event="legal:request:read", channel="web")
    assert [(e.outcome, e.reference) for e in reads] == [("allowed", late)]
    assert browser.get("/legal/LR-2026-0999/").status_code == 404


def test_a_non_custodian_gets_the_refusal_page_and_no_menu_entry(
        policy: Policy, subpoena: dict[str, Any],
        make_staff: Callable[..., StaffUser]) -> None:
    reference = take_in(Actor("dana", "custodian", Channel.CLI), subpoena)["reference"]
    browser = browser_for(make_staff("compliance", "cory"), policy)
    page = browser.get(f"/legal/{reference}/")
    assert page.status_code == 403
    assert "198.51.100.7" not in page.content.decode()
    assert "Legal desk</a>" not in browser.get("/").content.decode()
    assert browser.get("/legal/").status_code == 403
    refusals = AuditEntry.objects.filter(outcome="refused", actor="cory")
    assert sorted(e.event for e in refusals) == ["legal:request:read",
                                                 "legal:request:search"]
