"""Customer-record endpoints: purpose required, policy decides, everything audited, masks hold."""

from __future__ import annotations

import json

import pytest

from cpniguard.audit.models import AuditEntry
from cpniguard.policy import Policy
from cpniguard.subscribers.models import Interaction, Subscriber
from tests.api.conftest import TokenClient

pytestmark = pytest.mark.django_db


def only_entry() -> AuditEntry:
    return AuditEntry.objects.get()


# ---------------------------------------------------------------- purpose is required
@pytest.mark.parametrize("path", ["/api/subscribers/?q=A1000001",
                                  "/api/subscribers/{pk}/",
                                  "/api/subscribers/{pk}/?purpose="])
def test_missing_purpose_is_400_listing_the_purposes(
    api_as: TokenClient, subscriber: Subscriber, policy: Policy, path: str
) -> None:
    response = api_as("support").get(path.format(pk=subscriber.pk))
    assert response.status_code == 400
    body = response.json()
    message = body["errors"]["purpose"][0]
    usable = [p.id for p in policy.purposes.values() if not p.forbidden]
    forbidden = [p.id for p in policy.purposes.values() if p.forbidden]
    assert usable
    assert forbidden
    for purpose in usable:
        assert purpose in message
    for purpose in forbidden:
        assert purpose not in message
    # The caller's own options come from the policy's grants for the role.
    assert "your role may" in message
    assert "troubleshooting" in message.split("your role")[1]
    assert body["detail"].startswith("purpose: ")
    assert not AuditEntry.objects.exists()


def test_unknown_purpose_is_the_policys_refusal_not_a_form_error(
    api_as: TokenClient, subscriber: Subscriber
) -> None:
    response = api_as("support").get(f"/api/subscribers/{subscriber.pk}/?purpose=curiosity")
    assert response.status_code == 403
    assert response.json()["rule"] == "deny:unknown-purpose"
    assert (only_entry().outcome, only_entry().purpose) == ("refused", "curiosity")


# ---------------------------------------------------------------- search
def test_search_shows_only_granted_columns_and_is_audited(
    api_as: TokenClient, subscriber: Subscriber
) -> None:
    response = api_as("noc").get(
        "/api/subscribers/", {"q": "A1000001", "purpose": "provide_service"},
        HTTP_X_REQUEST_ID="req-search-0001",
    )
    assert response.status_code == 200
    # NOC may see the account and service address, never the name.
    assert response.json() == {"results": [{
        "id": subscriber.pk, "account_number": "A1000001", "name": None,
        "service_town": "Millbrook, VT",
    }]}
    entry = only_entry()
    assert (entry.event, entry.channel, entry.actor) == ("subscriber:record:search", "api",
                                                        "noc-api")
    assert entry.subject == f"subscribers:{subscriber.pk}"
    assert entry.request_id == response["X-Request-Id"] == "req-search-0001"


def test_search_query_never_reaches_the_audit_entry(
    api_as: TokenClient, subscriber: Subscriber
) -> None:
    response = api_as("support").get("/api/subscribers/",
                                     {"q": "Whitfield", "purpose": "provide_service"})
    assert [row["name"] for row in response.json()["results"]] == ["Dana Whitfield"]
    stored = json.dumps(list(AuditEntry.objects.values()), default=str)
    assert "Whitfield" not in stored
    assert "Dana" not in stored


def test_forbidden_purpose_is_403_naming_the_rule(
    api_as: TokenClient, subscriber: Subscriber
) -> None:
    response = api_as("billing").get("/api/subscribers/", {"q": "x", "purpose": "marketing"})
    assert response.status_code == 403
    body = response.json()
    assert body["rule"] == "deny:forbidden-purpose:marketing"
    assert body["allowed"] is False
    assert "never" in body["detail"]
    assert only_entry().outcome == "refused"


# ---------------------------------------------------------------- one record
def test_read_masks_what_the_purpose_does_not_need(
    api_as: TokenClient, subscriber: Subscriber
) -> None:
    response = api_as("support").get(
        f"/api/subscribers/{subscriber.pk}/",
        {"purpose": "troubleshooting", "reference": "TKT-100042"},
    )
    assert response.status_code == 200
    view = response.json()
    assert view["name"]["last_name"] == "Whitfield"
    assert view["phone"][0]["number"] == "+18025550142"
    assert view["billing_info"] is None
    assert view["billing_address"] is None
    assert view["email"] is None  # troubleshooting needs no email address
    assert set(view["masked"]) == {"billing_info", "billing_address", "email"}
    assert view["decision"] == {"rule": "grant:support-troubleshooting",
                                "purpose": "troubleshooting", "reference": "TKT-100042"}
    # Masked values are not sent at all, not merely hidden.
    assert "tok_8f3b2a" not in response.content.decode()
    assert "PO Box 118" not in response.content.decode()
    entry = only_entry()
    assert entry.reference == "TKT-100042"
    assert "billing_info.last4" not in entry.fields
    assert "name.last_name" in entry.fields


def test_read_without_the_required_reference_is_refused(
    api_as: TokenClient, subscriber: Subscriber
) -> None:
    response = api_as("noc").get(f"/api/subscribers/{subscriber.pk}/",
                                 {"purpose": "troubleshooting"})
    assert response.status_code == 403
    assert response.json()["rule"] == "grant:noc-troubleshooting:reference-required"
    assert "TKT-" in response.json()["detail"]


def test_read_of_a_missing_record_is_404_and_audited(api_as: TokenClient) -> None:
    response = api_as("billing").get("/api/subscribers/424242/", {"purpose": "billing"})
    assert response.status_code == 404
    assert response.json() == {"detail": "not found"}
    entry = only_entry()
    assert (entry.outcome, entry.subject) == ("not_found", "subscriber:424242")


def test_refusal_comes_before_existence(api_as: TokenClient) -> None:
    # A caller who may not read records cannot learn which record ids exist.
    response = api_as("auditor").get("/api/subscribers/424242/", {"purpose": "billing"})
    assert response.status_code == 403


def test_overlong_reference_is_400(api_as: TokenClient, subscriber: Subscriber) -> None:
    response = api_as("billing").get(f"/api/subscribers/{subscriber.pk}/",
                                     {"purpose": "billing", "reference": "R" * 65})
    assert response.status_code == 400
    assert "reference" in response.json()["errors"]


# ---------------------------------------------------------------- interaction notes
def note(purpose: str = "troubleshooting", reference: str = "TKT-100043",
         **changes: str) -> dict[str, str]:
    return {"purpose": purpose, "reference": reference, "channel": "phone",
            "summary": "Replaced the router; line stable", **changes}


def test_note_is_created_with_201(api_as: TokenClient, subscriber: Subscriber) -> None:
    response = api_as("support").post(f"/api/subscribers/{subscriber.pk}/interactions/",
                                      note(), format="json")
    assert response.status_code == 201
    body = response.json()
    stored = Interaction.objects.get(pk=body["id"])
    assert (stored.ticket, stored.staff, stored.channel) == ("TKT-100043", "support-api", "phone")
    assert body["subscriber"] == subscriber.pk
    assert body["summary"] == stored.summary
    entry = only_entry()
    assert entry.event == "subscriber:interaction:annotate"
    assert entry.subject == f"subscriber:{subscriber.pk}/interaction:{stored.pk}"
    assert "Replaced" not in json.dumps(list(AuditEntry.objects.values()), default=str)


def test_refused_note_is_not_stored(api_as: TokenClient, subscriber: Subscriber) -> None:
    before = Interaction.objects.count()
    response = api_as("noc").post(f"/api/subscribers/{subscriber.pk}/interactions/",
                                  note(purpose="provide_service", reference=""),
                                  format="json")
    assert response.status_code == 403
    assert response.json()["rule"] == "deny:default"
    assert Interaction.objects.count() == before
    assert only_entry().outcome == "refused"


def test_note_on_a_missing_record_is_404(api_as: TokenClient) -> None:
    response = api_as("support").post("/api/subscribers/424242/interactions/", note(),
                                      format="json")
    assert response.status_code == 404
    assert only_entry().outcome == "not_found"
    assert not Interaction.objects.exists()


@pytest.mark.parametrize(("changes", "field"), [
    ({"channel": "telepathy"}, "channel"),
    ({"summary": "   "}, "summary"),
    ({"purpose": ""}, "purpose"),
])
def test_invalid_note_is_400_and_not_audited(
    api_as: TokenClient, subscriber: Subscriber, changes: dict[str, str], field: str
) -> None:
    response = api_as("support").post(f"/api/subscribers/{subscriber.pk}/interactions/",
                                      note(**changes), format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert response.json()["detail"].startswith(f"{field}: ")
    assert not AuditEntry.objects.exists()


def test_note_body_must_be_json_object(api_as: TokenClient, subscriber: Subscriber) -> None:
    response = api_as("support").post(f"/api/subscribers/{subscriber.pk}/interactions/",
                                      "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]
