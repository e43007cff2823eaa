"""`POST /api/attribution/` and `/api/attribution/batch/`: the service's answer as JSON, the
subscriber masked per purpose, bad input a 400 that audits nothing, a refusal a 403 naming
the rule, and exactly one audit entry per answered or refused request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from cpniguard.audit.models import AuditEntry
from cpniguard.subscribers.models import Subscriber
from tests.api.conftest import TokenClient
from tests.connectivity import attribution_scene as scene

pytestmark = pytest.mark.django_db
URL, BATCH_URL = "/api/attribution/", "/api/attribution/batch/"
NOC = {"purpose": "troubleshooting", "reference": "TKT-104233"}
CUSTODIAN = {"purpose": "legal_process", "reference": "LR-2026-0042"}


@pytest.fixture(autouse=True)
def _scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscriber: Subscriber) -> None:
    scene.install(tmp_path, monkeypatch, subscriber)


def ask(client: APIClient, address: str, at: str = scene.AT_TEXT, **more: Any) -> Any:
    return client.post(URL, {"address": address, "at": at, **more}, format="json")


def entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("seq"))


@pytest.mark.parametrize(("address", "status"), list(scene.QUESTIONS.items()))
def test_every_kind_of_answer(api_as: TokenClient, address: str, status: str) -> None:
    response = ask(api_as("noc"), address, **NOC)
    assert response.status_code == 200, response.json()
    answer = response.json()
    assert (answer["status"], answer["at"]) == (status, scene.AT_UTC)
    [entry] = entries()
    assert (entry.event, entry.outcome, entry.channel) == (
        "connectivity:attribution:read", "allowed", "api")
    assert entry.rule == "grant:noc-troubleshooting"
    assert entry.subject.startswith(f"attribution:{status}")
    assert address.split(":")[0] not in entry.subject + entry.reason


def test_a_match_names_the_subscriber_masked_for_troubleshooting(
        api_as: TokenClient, subscriber: Subscriber) -> None:
    answer = ask(api_as("noc"), scene.MATCH, at=scene.AT_ZONED, **NOC).json()
    assert answer["subscriber"] == {"id": subscriber.pk, "account_number": "A1000001",
                                    "name": None, "service_town": "Millbrook, VT"}
    [candidate] = answer["candidates"]
    assert candidate["holder"] == {"username": "dana@example.net"}
    assert candidate["interval"] == {"start": "2017-03-29T21:00:00+00:00",
                                     "end": "2017-03-29T22:00:00+00:00", "last_seen": None,
                                     "flags": []}
    assert candidate["evidence"] == [{"file": scene.RADIUS_LOG, "line": 14,
                                      "sha256": scene.sha256_of(scene.RADIUS_LOG)}]
    assert [link["kind"] for link in candidate["subscribers"]] == ["username"]
    assert AuditEntry.objects.get().subject == f"attribution:match subscriber:{subscriber.pk}"
    assert "Whitfield" not in str(answer)


def test_legal_process_sees_the_name_through_the_cgnat_step(
        api_as: TokenClient, subscriber: Subscriber) -> None:
    answer = ask(api_as("custodian"), scene.SHARED, port=2050, **CUSTODIAN).json()
    assert answer["status"] == "match"
    assert (answer["port"], answer["inside_address"]) == (2050, "100.64.0.6")
    assert answer["subscriber"]["name"] == "Dana Whitfield"
    assert answer["translation"]["ports"] == [2048, 3071]
    assert answer["translation"]["session_id"] == "inside=100.64.0.6"
    assert [(e["file"], e["line"]) for e in answer["evidence_chain"]] == [
        (scene.NAT_LOG, 4), (scene.RADIUS_LOG, 118)]


def test_a_shared_address_without_a_port_names_nobody(api_as: TokenClient) -> None:
    answer = ask(api_as("custodian"), scene.SHARED, **CUSTODIAN).json()
    assert answer["status"] == "port_required"
    assert answer["candidates"] == []
    assert answer["subscriber"] is None
    assert "dana" not in str(answer).lower()


@pytest.mark.parametrize(("given", "field", "words"), [
    ({"address": scene.MATCH, "at": scene.AT_NAIVE}, "at", "has no offset or zone"),
    ({"address": scene.MATCH, "at": "2017-11-05 01:30:00 America/Los_Angeles"}, "at",
     "ambiguous-local-time"),
    ({"address": "192.0.2.300", "at": scene.AT_TEXT}, "address", "not an IP address"),
    ({"address": scene.MATCH, "port": 70000, "at": scene.AT_TEXT}, "port", "65535"),
])
def test_unreadable_questions_are_400_and_not_audited(
        api_as: TokenClient, given: dict[str, Any], field: str, words: str) -> None:
    response = api_as("noc").post(URL, {**given, **NOC}, format="json")
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert words in " ".join(response.json()["errors"][field])
    assert entries() == []


def test_skew_out_of_range_is_the_service_message(api_as: TokenClient) -> None:
    response = ask(api_as("noc"), scene.MATCH, skew_seconds=7200, **NOC)
    assert response.status_code == 400
    assert response.json()["detail"] == "skew must be between 0 and 3600 seconds, not 7200"
    assert entries() == []


@pytest.mark.parametrize(("role", "declared", "rule"), [
    ("support", {"purpose": "troubleshooting", "reference": "TKT-104233"},
     "grant:support-troubleshooting:missing-category"),
    ("noc", {"purpose": "troubleshooting"}, "grant:noc-troubleshooting:reference-required"),
    ("noc", {"purpose": "marketing"}, "deny:forbidden-purpose:marketing"),
    ("custodian", {"purpose": "bogus"}, "deny:unknown-purpose"),
])
def test_refusals_are_403_with_the_rule_and_audited(
        api_as: TokenClient, role: str, declared: dict[str, str], rule: str) -> None:
    response = ask(api_as(role), scene.MATCH, **declared)
    assert response.status_code == 403
    assert (response.json()["rule"], response.json()["allowed"]) == (rule, False)
    [entry] = entries()
    assert (entry.outcome, entry.rule, entry.subject) == ("refused", rule, "attribution")


def test_no_purpose_is_400_naming_the_purposes_the_role_may_use(api_as: TokenClient) -> None:
    response = ask(api_as("noc"), scene.MATCH)
    assert response.status_code == 400
    assert "troubleshooting" in response.json()["errors"]["purpose"][0]
    assert entries() == []


def test_without_a_token_nothing_is_asked() -> None:
    response = ask(APIClient(), scene.MATCH, **NOC)
    assert response.status_code == 401
    assert entries() == []


# ---------------------------------------------------------------- batch

def batch(client: APIClient, rows: Any, declared: dict[str, str] = NOC) -> Any:
    return client.post(BATCH_URL, {**declared, "rows": rows}, format="json")


def test_a_batch_answers_in_order_with_one_audit_entry(api_as: TokenClient) -> None:
    rows = [{"id": f"q{n}", "address": address, "at": scene.AT_ZONED}
            for n, address in enumerate(scene.QUESTIONS)]
    rows.append({"id": "split-port", "address": scene.SHARED, "port": "2050",
                 "at": scene.AT_TEXT})
    rows.append({"address": "2001:db8::1", "port": 443, "at": scene.AT_TEXT})
    response = batch(api_as("noc"), rows)
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == [*scene.QUESTIONS.values(), "match", "no_match"]
    assert [r["label"] for r in results] == ["q0", "q1", "q2", "q3", "q4", "split-port", ""]
    assert results[-1]["port"] == 443
    assert {r["at"] for r in results} == {scene.AT_UTC}
    [entry] = entries()
    assert entry.event == "connectivity:attribution-batch:read"
    assert entry.subject.startswith(
        "attribution-batch rows=7 ambiguous=1 match=3 no_match=2 port_required=1 ")


def test_every_bad_row_is_named_and_nothing_is_audited(api_as: TokenClient) -> None:
    rows = [{"id": "ok", "address": scene.MATCH, "at": scene.AT_TEXT},
            {"id": "naive", "address": scene.MATCH, "at": scene.AT_NAIVE},
            {"id": "bad", "address": "example.net", "at": scene.AT_TEXT}]
    response = batch(api_as("noc"), rows)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "row 2 (naive): '2017-03-29T14:05:03' has no offset or zone" in detail
    assert "row 3 (bad): not an IP address: 'example.net'" in detail
    assert entries() == []


@pytest.mark.parametrize(("rows", "words"), [
    ([], "the batch has no rows"),
    ("192.0.2.10", "rows must be a list of objects"),
    ([["192.0.2.10"]], "row 1: not an object"),
    ([{"address": scene.MATCH, "port": "https", "at": scene.AT_TEXT}], "row 1: bad port"),
    ([{}] * 100_001, "at most 100,000 rows per batch (got 100,001)"),
])
def test_malformed_batches_are_400(api_as: TokenClient, rows: Any, words: str) -> None:
    response = batch(api_as("noc"), rows)
    assert response.status_code == 400
    assert words in response.json()["detail"]
    assert entries() == []


def test_a_refused_batch_is_audited_once(api_as: TokenClient) -> None:
    rows = [{"address": scene.MATCH, "at": scene.AT_TEXT}]
    response = batch(api_as("billing"), rows, {"purpose": "billing"})
    assert response.status_code == 403
    assert response.json()["rule"] == "grant:billing-billing:missing-category"
    [entry] = entries()
    assert (entry.event, entry.outcome) == ("connectivity:attribution-batch:read", "refused")


def test_the_schema_documents_the_answer() -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    answer = schema["components"]["schemas"]["AttributionAnswer"]
    assert {"at", "status", "reason", "candidates", "translation", "inside_address",
            "evidence_chain", "static_assignments", "subscriber"} <= set(answer["required"])
    status = schema["components"]["schemas"]["StatusEnum"]
    assert status["enum"] == ["match", "ambiguous", "no_match", "port_required"]
    candidate = schema["components"]["schemas"]["AttributionCandidate"]["properties"]
    assert {"holder", "interval", "evidence", "subscribers"} <= set(candidate)
    linked = schema["components"]["schemas"]["LinkedSubscriber"]["properties"]
    assert linked["name"]["nullable"] is True
    rows = schema["components"]["schemas"]["AttributionBatch"]["properties"]["rows"]
    assert rows["items"] == {"$ref": "#/components/schemas/AttributionBatchRow"}
    for path in (URL, BATCH_URL):
        assert set(schema["paths"][path]["post"]["responses"]) == {"200", "400", "401", "403"}


def test_the_schema_names_exactly_the_keys_the_service_returns(api_as: TokenClient) -> None:
    """Caught here when the service grows a key that the documented shape does not have."""
    components = APIClient().get("/api/schema/?format=json").json()["components"]["schemas"]

    def documented(name: str) -> set[str]:
        return set(components[name]["properties"])

    answer = ask(api_as("custodian"), scene.CGNAT, **CUSTODIAN).json()
    assert set(answer) == documented("AttributionAnswer")
    assert set(answer["candidates"][0]) == documented("AttributionCandidate")
    assert set(answer["translation"]) == documented("AttributionTranslation")
    assert set(answer["translation"]["interval"]) == documented("AttributionInterval")
    assert set(answer["candidates"][0]["subscribers"][0]) == documented("AttributionLink")
    assert set(answer["subscriber"]) == documented("LinkedSubscriber")
    assert set(answer["candidates"][0]["holder"]) <= documented("AttributionHolder")
