"""`GET /api/quality/network/` and `/api/quality/subscriber/<account>/`: the service's answer
as JSON, the same figures and the same decision and audit entry as the CLI for the same staff
member, refusals a 403 naming the rule (audited), unreadable input a 400 (not audited)."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main as cli
from tests.api.conftest import TokenClient, bearer
from tests.quality.conftest import OS_USER, SINCE, UNTIL
from tests.quality.radius_scene import NASES, Scene

pytestmark = pytest.mark.django_db
NETWORK, HEALTH = "/api/quality/network/", "/api/quality/subscriber/{}/"
DAY = {"since": SINCE, "until": UNTIL}
TICKET = {"purpose": "troubleshooting", "reference": "TKT-104233"}


@pytest.fixture
def api_as(db: None) -> TokenClient:
    """As tests/api's fixture: a client holding a live token of a new staff member."""

    def make(role: str, username: str | None = None) -> APIClient:
        user = StaffUser(username=username or f"{role}-api", role=role)
        user.set_unusable_password()
        user.save()
        _, secret = ApiToken.issue(user, "tests", timezone.now() + timedelta(days=1))
        return bearer(secret)

    return make


def entries() -> list[AuditEntry]:
    # Issuing a token and linking the OS user are audited too; these tests count reads.
    return list(AuditEntry.objects.filter(event__startswith="quality:").order_by("seq"))


def noc_client(api: TokenClient) -> APIClient:
    """A NOC member with a token who is also the OS user the CLI acts as."""
    client = api("noc", username="noc-both")
    StaffUser.objects.filter(username="noc-both").update(os_username=OS_USER)
    return client


def run_cli(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, Any]:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli(["quality", *argv, "--json"])
    return code, json.loads(out.getvalue())


def without_decision(report: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in report.items() if key != "decision"}


def test_the_network_report_is_the_cli_report_with_the_same_audit_entry(
        network: Scene, api_as: TokenClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client = noc_client(api_as)
    response = client.get(NETWORK, {**DAY, "purpose": "network_quality", "resolution": "1h"})
    assert response.status_code == 200, response.json()
    answer = response.json()
    code, printed = run_cli(monkeypatch, "report", "--since", SINCE, "--until", UNTIL,
                            "--resolution", "1h")
    assert code == 0
    assert without_decision(answer) == without_decision(printed)
    assert answer["decision"] == printed["decision"] == {
        "rule": "grant:noc-network-quality", "purpose": "network_quality"}
    assert [(i["level"], i["group"], i["cause"]) for i in answer["incidents"]] == [
        ("nas", NASES[0], "nas-restart")]
    # Its proof is the Accounting-On line that closed every session at once.
    [proof] = answer["incidents"][0]["evidence"]
    assert proof["closes"] == network.truth[0].sessions
    assert proof["file"].endswith(f"detail-{NASES[0]}-20240305")
    api_entry, cli_entry = entries()
    for entry in (api_entry, cli_entry):
        assert (entry.event, entry.outcome, entry.rule, entry.subject, entry.role) == (
            "quality:network:read", "allowed", "grant:noc-network-quality", "network:all",
            "noc")
    assert (api_entry.channel, cli_entry.channel) == ("api", "cli")
    # The same staff member; the CLI also names the OS account it ran under.
    assert (api_entry.actor, cli_entry.actor) == ("noc-both", f"noc-both (os:{OS_USER})")
    assert api_entry.fields == cli_entry.fields


def test_one_device_or_one_pop_narrows_the_report(network: Scene,
                                                  api_as: TokenClient) -> None:
    client = api_as("noc")
    answer = client.get(NETWORK, {**DAY, "purpose": "network_quality",
                                  "device": NASES[1]}).json()
    assert [d["device"] for d in answer["devices"]] == [NASES[1]]
    assert answer["incidents"] == []
    # No POP is declared: a device is a POP of its own name.
    by_pop = client.get(NETWORK, {**DAY, "purpose": "network_quality", "pop": NASES[0]}).json()
    assert [d["device"] for d in by_pop["devices"]] == [NASES[0]]
    assert by_pop["pops"] == []
    assert [e.subject for e in entries()] == [f"network:{NASES[1]}", f"network:pop={NASES[0]}"]


def test_subscriber_health_matches_the_cli_and_names_the_subscriber(
        network: Scene, api_as: TokenClient, monkeypatch: pytest.MonkeyPatch) -> None:
    client = noc_client(api_as)
    response = client.get(HEALTH.format("A1000001"), {**DAY, **TICKET})
    assert response.status_code == 200, response.json()
    answer = response.json()
    code, printed = run_cli(monkeypatch, "subscriber", "A1000001", "--purpose",
                            "troubleshooting", "--reference", "TKT-104233", "--since", SINCE,
                            "--until", UNTIL)
    assert code == 0
    assert answer == printed
    assert answer["verdict"] == "poor"
    api_entry, cli_entry = entries()
    assert (api_entry.event, api_entry.rule, api_entry.reference, api_entry.channel) == (
        "quality:subscriber-health:read", "grant:noc-troubleshooting", "TKT-104233", "api")
    assert api_entry.subject == cli_entry.subject
    assert api_entry.subject.startswith("subscriber:")


@pytest.mark.parametrize(("role", "url", "query", "rule"), [
    ("support", NETWORK, {"purpose": "network_quality"}, "deny:default"),
    ("billing", NETWORK, {"purpose": "billing"}, "grant:billing-billing:no-category"),
    ("noc", NETWORK, {"purpose": "marketing"}, "deny:forbidden-purpose:marketing"),
    ("support", HEALTH.format("A1000001"), TICKET,
     "grant:support-troubleshooting:missing-category"),
    ("billing", HEALTH.format("A1000001"), TICKET, "deny:default"),
    ("noc", HEALTH.format("A1000001"), {"purpose": "troubleshooting"},
     "grant:noc-troubleshooting:reference-required"),
])
def test_refusals_are_403_with_the_rule_and_audited(
        network: Scene, api_as: TokenClient, role: str, url: str, query: dict[str, str],
        rule: str) -> None:
    response = api_as(role).get(url, {**DAY, **query})
    assert response.status_code == 403
    assert (response.json()["rule"], response.json()["allowed"]) == (rule, False)
    [entry] = entries()
    assert (entry.outcome, entry.rule, entry.channel) == ("refused", rule, "api")
    assert entry.event.startswith("quality:")


@pytest.mark.parametrize(("query", "words"), [
    ({"since": "2024-03-05T00:00:00"}, "has no offset or zone"),
    ({"since": SINCE, "until": "2024-04-20T00:00:00Z"}, "a range is at most 31 days"),
    ({**DAY, "device": NASES[0], "pop": "north"}, "one device or one POP, not both"),
    ({**DAY, "device": "192.0.2.99"}, "no sessions of device '192.0.2.99'"),
    ({**DAY, "resolution": "7m"}, "resolution"),
])
def test_unreadable_queries_are_400_and_not_audited(
        network: Scene, api_as: TokenClient, query: dict[str, str], words: str) -> None:
    response = api_as("noc").get(NETWORK, {**query, "purpose": "network_quality"})
    assert response.status_code == 400
    assert words in response.json()["detail"]
    # A device with no sessions is found out after the decision: that read is audited.
    assert len(entries()) == (1 if "no sessions" in words else 0)


def test_no_purpose_is_400_naming_the_purposes_the_role_may_use(
        network: Scene, api_as: TokenClient) -> None:
    response = api_as("noc").get(NETWORK, DAY)
    assert response.status_code == 400
    assert "network_quality" in response.json()["errors"]["purpose"][0]
    assert entries() == []


def test_an_unknown_account_is_404(network: Scene, api_as: TokenClient) -> None:
    response = api_as("noc").get(HEALTH.format("A0000000"), {**DAY, **TICKET})
    assert response.status_code == 404


def test_without_a_token_nothing_is_read(network: Scene) -> None:
    assert APIClient().get(NETWORK, {**DAY, "purpose": "network_quality"}).status_code == 401
    assert entries() == []


def test_the_schema_documents_both_endpoints(network: Scene,
                                             api_as: TokenClient) -> None:
    schema = APIClient().get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    for path, operation in ((NETWORK, "quality_network"),
                            ("/api/quality/subscriber/{account}/", "quality_subscriber")):
        get = schema["paths"][path]["get"]
        assert get["operationId"] == operation
        assert {"200", "400", "401", "403"} <= set(get["responses"])
        names = {p["name"] for p in get["parameters"]}
        assert {"since", "until", "purpose", "reference"} <= names
    parameters = {p["name"] for p in schema["paths"][NETWORK]["get"]["parameters"]}
    assert {"device", "pop", "resolution"} <= parameters
    answer = api_as("noc").get(NETWORK, {**DAY, "purpose": "network_quality"}).json()
    documented = set(components["NetworkReport"]["properties"])
    assert documented <= set(answer)
    assert set(answer["incidents"][0]) == set(components["IncidentRow"]["properties"])
    group = set(components["GroupView"]["properties"])
    assert group <= set(answer["devices"][0])
