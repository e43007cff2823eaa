"""Search, purpose prompt, record detail and interaction notes, through the Django test client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.policy import Action, Policy
from cpniguard.subscribers.models import Subscriber

pytestmark = pytest.mark.django_db
SignedIn = Callable[..., tuple[Client, StaffUser]]


def detail(pk: int) -> str:
    return reverse("web:subscriber_detail", args=[pk])


def test_search_shows_nothing_until_a_purpose_is_chosen(
    staff_client: SignedIn, subscriber: Subscriber, policy: Policy
) -> None:
    client, _ = staff_client("support")
    response = client.get(reverse("web:subscriber_search"), {"q": "Whitfield"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Choose a purpose to search" in html
    assert "Whitfield" not in html.replace('value="Whitfield"', "")
    assert not AuditEntry.objects.exists()
    # The select offers exactly the purposes the policy lets support search for.
    offered = [o.id for o in response.context["options"]]
    assert offered == [p.id for p in policy.purposes_for("support", Action.SEARCH)]
    for purpose in offered:
        assert f'<option value="{purpose}"' in html
    assert '<option value="marketing"' not in html


def test_search_with_a_purpose_lists_matches_linking_to_the_record(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("support")
    response = client.get(reverse("web:subscriber_search"),
                          {"q": "whitfield", "purpose": "troubleshooting",
                           "reference": "TKT-100042"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Dana Whitfield" in html
    assert "A1000001" in html
    assert "Millbrook, VT" in html
    assert (f"{detail(subscriber.pk)}?purpose=troubleshooting&amp;reference=TKT-100042"
            in html)
    entry = AuditEntry.objects.get()
    assert (entry.event, entry.outcome) == ("subscriber:record:search", "allowed")
    assert entry.subject == f"subscribers:{subscriber.pk}"


def test_search_refused_by_the_policy_is_a_403_with_reason_and_rule(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("support")
    response = client.get(reverse("web:subscriber_search"),
                          {"q": "Whitfield", "purpose": "marketing"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "Access refused" in html
    assert "deny:forbidden-purpose:marketing" in html
    assert "We never use your information for marketing." in html
    assert "Whitfield" not in html.replace("Whitfield&quot;", "")
    assert AuditEntry.objects.get().outcome == "refused"


def test_detail_without_purpose_prompts_and_shows_no_customer_data(
    staff_client: SignedIn, subscriber: Subscriber, policy: Policy
) -> None:
    client, _ = staff_client("support")
    response = client.get(detail(subscriber.pk))
    assert response.status_code == 200
    html = response.content.decode()
    for value in ("Dana", "Whitfield", "A1000001", "Orchard", "5550142", "example.net"):
        assert value not in html, value
    assert not AuditEntry.objects.exists()
    # Offers the READ purposes, saying which need a reference and giving the policy's example.
    for purpose in policy.purposes_for("support", Action.READ):
        assert f'value="{purpose.id}"' in html
    assert "Needs a trouble ticket reference" in html
    assert policy.references["ticket"].example in html
    assert "No reference needed" in html


def test_detail_for_support_masks_billing_and_labels_both_addresses(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("support")
    response = client.get(detail(subscriber.pk), {"purpose": "provide_service"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Dana Whitfield" in html
    assert "42 Orchard Hill Rd" in html
    assert "Where the service is delivered" in html
    # Billing address and billing information are masked, with the reason, not the data.
    assert "PO Box 118" not in html
    assert "4242" not in html
    assert "tok_8f3b2a" not in html
    assert html.count("Masked — not needed for Providing the service") == 2
    assert 'data-testid="masked-billing_address"' in html
    assert 'data-testid="masked-billing_info"' in html
    # The banner names purpose, reference and rule.
    assert "grant:support-provide-service" in html
    assert "Intermittent drops in the evening" in html
    entry = AuditEntry.objects.get()
    assert (entry.event, entry.subject) == ("subscriber:record:read",
                                            f"subscriber:{subscriber.pk}")


def test_both_addresses_are_shown_in_separate_labelled_boxes(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    # The custodian answering legal process is the one role that sees both addresses.
    client, _ = staff_client("custodian")
    html = client.get(detail(subscriber.pk), {"purpose": "legal_process",
                                              "reference": "LR-2026-0042"}).content.decode()
    billing_box = html.split('id="section-billing_address"')[1].split("</section>")[0]
    service_box = html.split('id="section-service_address"')[1].split("</section>")[0]
    assert "Billing address" in billing_box
    assert "PO Box 118" in billing_box
    assert "Service address" in service_box
    assert "42 Orchard Hill Rd" in service_box
    assert "PO Box 118" not in service_box
    assert "Orchard" not in billing_box
    assert "ending 4242" in html
    assert "(802) 555-0142" in html


def test_detail_refused_is_a_403_explaining_what_would_be_allowed(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("noc")
    response = client.get(detail(subscriber.pk), {"purpose": "troubleshooting"})
    assert response.status_code == 403
    html = response.content.decode()
    assert "requires a trouble ticket reference" in html
    assert "grant:noc-troubleshooting:reference-required" in html
    assert "TKT-104233" in html  # the policy's example of a valid reference
    assert "Whitfield" not in html
    assert "Orchard" not in html
    entry = AuditEntry.objects.get()
    assert (entry.outcome, entry.rule) == ("refused",
                                           "grant:noc-troubleshooting:reference-required")


def test_detail_of_a_missing_subscriber_is_a_404(staff_client: SignedIn) -> None:
    client, _ = staff_client("billing")
    response = client.get(detail(999999), {"purpose": "billing"})
    assert response.status_code == 404
    assert AuditEntry.objects.get().outcome == "not_found"


def test_interaction_via_htmx_returns_the_refreshed_list(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, user = staff_client("support")
    response = client.post(
        reverse("web:interaction_add", args=[subscriber.pk]),
        {"purpose": "troubleshooting", "reference": "TKT-100077", "channel": "chat",
         "summary": "Rebooted the router with the customer"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="box wide" id="interactions"')
    assert "<html" not in html
    assert "Rebooted the router with the customer" in html
    assert "Intermittent drops in the evening" in html
    note = subscriber.interactions.get(summary="Rebooted the router with the customer")
    assert (note.staff, note.ticket, note.channel) == (user.username, "TKT-100077", "chat")
    events = list(AuditEntry.objects.values_list("event", "outcome"))
    assert events == [("subscriber:interaction:annotate", "allowed"),
                      ("subscriber:record:read", "allowed")]


def test_interaction_without_htmx_redirects_back_to_the_record(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("support")
    response = client.post(
        reverse("web:interaction_add", args=[subscriber.pk]),
        {"purpose": "troubleshooting", "reference": "TKT-100077", "channel": "phone",
         "summary": "Called back"},
    )
    assert response.status_code == 302
    assert response["Location"] == (f"{detail(subscriber.pk)}?purpose=troubleshooting"
                                    "&reference=TKT-100077")
    page = client.get(response["Location"]).content.decode()
    assert "Interaction note added." in page
    assert "Called back" in page


def test_interaction_refused_is_a_403_and_nothing_is_stored(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("noc")  # NOC may read for provide_service, not annotate
    before = subscriber.interactions.count()
    for headers in ({}, {"HX-Request": "true"}):
        response = client.post(
            reverse("web:interaction_add", args=[subscriber.pk]),
            {"purpose": "provide_service", "channel": "phone", "summary": "not allowed"},
            headers=headers,
        )
        assert response.status_code == 403
        assert "deny:default" in response.content.decode()
    assert response["HX-Retarget"] == "#interaction-feedback"
    assert subscriber.interactions.count() == before
    assert list(AuditEntry.objects.values_list("outcome", flat=True)) == ["refused", "refused"]


def test_an_empty_note_is_rejected_without_touching_the_record(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    client, _ = staff_client("support")
    response = client.post(reverse("web:interaction_add", args=[subscriber.pk]),
                           {"purpose": "provide_service", "summary": ""},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "This field is required" in response.content.decode()
    assert not AuditEntry.objects.exists()


def test_the_note_form_only_appears_where_the_purpose_allows_notes(
    staff_client: SignedIn, subscriber: Subscriber
) -> None:
    support, _ = staff_client("support")
    html = support.get(detail(subscriber.pk), {"purpose": "provide_service"}).content.decode()
    assert 'hx-post="' in html
    noc, _ = staff_client("noc")
    html = noc.get(detail(subscriber.pk), {"purpose": "provide_service"}).content.decode()
    assert 'hx-post="' not in html
    assert "Masked — not needed for Providing the service" in html
