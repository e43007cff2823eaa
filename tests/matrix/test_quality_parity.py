"""Service-quality parity, generated from the policy file: the CLI, the API and the web UI
give the same staff member the same network report and the same subscriber health, or the
same refusal, and audit it alike.

Both views x every role x every purpose in the policy plus one it does not know x with and
without a valid reference. The expected decision comes from `Policy.decide` (plus the gate's
rule that a view without its required categories is refused), never from a hand-written
table. Allowed combinations must give the same JSON-comparable figures on all three channels
(k-suppressed figures included); the page is held to what it renders from and to the JSON it
embeds for its plots. Each call must write exactly one audit entry, identical on the three
channels but for actor and channel.

The log store is the quality tests' RADIUS scene (a NAS restart, a reconnect storm), ingested
by the real `ingest_file` once per module: every test reads the same files.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.access import Actor, Channel
from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.policy import AccessRequest, Action, current_policy
from cpniguard.quality.services import (
    HEALTH_CATEGORIES,
    HEALTH_REQUIRED,
    NETWORK_CATEGORIES,
)
from cpniguard.quality.speedtests import import_file
from cpniguard.subscribers.models import Subscriber
from tests.quality.conftest import DAY, SINCE, STORMY, UNTIL, build, link
from tests.quality.radius_scene import NASES, Outage, Scene, at

pytestmark = pytest.mark.django_db

POLICY = current_policy()
UNKNOWN_PURPOSE = "bogus"
PURPOSES = (*POLICY.purposes, UNKNOWN_PURPOSE)
VIEWS = ("network", "health")
EVENTS = {"network": "quality:network:read", "health": "quality:subscriber-health:read"}
OS_USER = "qualitydesk"
ACCOUNT = "A1000001"  # the `subscriber` fixture, linked to the scene's stormy subscriber
# A NAS restart (an incident with its Accounting-On line as proof) and one subscriber's
# reconnect storm (a `poor` verdict), on the 30 subscribers per NAS the outage rule needs.
SCENE = Scene(DAY, per_nas=30, outages=[Outage(NASES[0], at(DAY, 9, 30), "restart")],
              storms=[(STORMY, at(DAY, 14), 6)])
# Three downloads well under the 300 Mbps plan: a `slow-download` finding in the health view,
# and a speed-test spread of one subscriber (suppressed) in the network view.
SPEED_CSV = ("account,measured_at,down_mbps,up_mbps,latency_ms,server,method\n"
             + "".join(f"{ACCOUNT},2024-03-05T{hour}:00:00Z,{down},280,11,"
                       "speedtest.example.net,ookla\n"
                       for hour, down in ((10, 90), (11, 100), (12, 120))))
# Channel, then (kind, payload): kind "answer" with the view, or "refused" with the rule.
Outcome = tuple[str, Any]


def asked(view: str) -> tuple[frozenset[str], frozenset[str]]:
    """The categories each view asks the gate for, and those it cannot do without."""
    if view == "network":
        return NETWORK_CATEGORIES, NETWORK_CATEGORIES
    return HEALTH_CATEGORIES, HEALTH_REQUIRED


def valid_reference(role: str, purpose: str) -> str:
    """The example reference of the kind a read grant of (role, purpose) requires; for
    combinations with no such grant, a well-formed ticket (it must not matter)."""
    for grant in POLICY.grants:
        if (grant.role, grant.purpose) == (role, purpose) and Action.READ in grant.actions \
                and grant.reference:
            return POLICY.references[grant.reference].example
    return POLICY.references["ticket"].example


def expected(view: str, role: str, purpose: str,
             reference: str) -> tuple[bool, str, frozenset[str]]:
    categories, required = asked(view)
    decision = POLICY.decide(AccessRequest(role, purpose, Action.READ, categories,
                                           reference or None))
    if decision.allowed and not required <= decision.granted:
        return False, f"{decision.rule}:missing-category", frozenset()
    return decision.allowed, decision.rule, decision.granted


def cases() -> list[Any]:
    return [pytest.param(view, role, purpose, reference,
                         id=f"{view}-{role}-{purpose}-{label}")
            for view in VIEWS for role in POLICY.roles for purpose in PURPOSES
            for label, reference in (("with-reference", valid_reference(role, purpose)),
                                     ("no-reference", ""))]


@pytest.fixture(scope="module")
def quality_home(tmp_path_factory: pytest.TempPathFactory, django_db_setup: None,
                 django_db_blocker: Any) -> Path:
    """The scene's logs ingested once. Only the store's files are kept: the ingest's own
    database rows (file records, its audit entries) are rolled back, so every test starts
    from an empty trail."""
    home = tmp_path_factory.mktemp("quality-parity")
    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as env:
        env.setenv("CPNIGUARD_HOME", str(home))
        env.delenv("CPNIGUARD_LOGSTORE", raising=False)
        with transaction.atomic():
            build(home, SCENE)
            transaction.set_rollback(True)
    return home


@dataclass
class Desk:
    """One staff member on all three channels."""

    user: StaffUser
    ui: Client
    api: APIClient
    capsys: pytest.CaptureFixture[str]


@pytest.fixture
def desk_for(quality_home: Path, monkeypatch: pytest.MonkeyPatch, subscriber: Subscriber,
             capsys: pytest.CaptureFixture[str]) -> Callable[[str], Desk]:
    monkeypatch.setenv("CPNIGUARD_HOME", str(quality_home))
    monkeypatch.delenv("CPNIGUARD_LOGSTORE", raising=False)
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)
    link(subscriber, SCENE, STORMY)

    def make(role: str) -> Desk:
        user = StaffUser(username=f"{role}-parity", role=role, os_username=OS_USER)
        user.set_unusable_password()  # sessions are forced; hashing would only cost time
        user.save()
        ui = Client()
        ui.force_login(user)
        if POLICY.roles[role].second_factor:  # as tests/matrix does for the record pages
            session = ui.session
            session[SESSION_KEY] = True
            session.save()
        _, secret = ApiToken.issue(user, "parity", timezone.now() + timedelta(hours=1))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return Desk(user, ui, api, capsys)

    return make


def import_speed_tests(folder: Path) -> None:
    """The NOC's daily feed, through the real importer (audited; before any call compared)."""
    path = folder / "speedtests.csv"
    path.write_text(SPEED_CSV)
    import_file(Actor("feed-noc", "noc", Channel.CLI), path, "csv", purpose="network_quality")


def audited(call: Callable[[], Outcome]) -> tuple[Outcome, list[AuditEntry]]:
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    outcome = call()
    return outcome, list(AuditEntry.objects.filter(seq__gt=last).order_by("seq"))


def comparable(entry: AuditEntry) -> dict[str, object]:
    return {"role": entry.role, "event": entry.event, "purpose": entry.purpose,
            "reference": entry.reference, "subject": entry.subject,
            "categories": entry.categories, "fields": entry.fields,
            "outcome": entry.outcome, "rule": entry.rule, "reason": entry.reason}


def via_cli(desk: Desk, view: str, purpose: str, reference: str) -> Outcome:
    declared = ["--purpose", purpose, *(["--reference", reference] if reference else [])]
    argv = (["report", "--resolution", "1h"] if view == "network"
            else ["subscriber", ACCOUNT])
    desk.capsys.readouterr()
    code = main(["quality", *argv, "--since", SINCE, "--until", UNTIL, *declared, "--json"])
    out = json.loads(desk.capsys.readouterr().out)
    if code == 3:
        return "refused", out["rule"]
    assert code == 0, out
    return "answer", out


def via_api(desk: Desk, view: str, purpose: str, reference: str) -> Outcome:
    query = {"since": SINCE, "until": UNTIL, "purpose": purpose, "reference": reference}
    response = (desk.api.get("/api/quality/network/", {**query, "resolution": "1h"})
                if view == "network"
                else desk.api.get(f"/api/quality/subscriber/{ACCOUNT}/", query))
    if response.status_code == 403:
        return "refused", response.json()["rule"]
    assert response.status_code == 200, response.json()
    return "answer", response.json()


PLOT_DATA = re.compile(r'<script id="(plot-\d+)" type="application/json">(.*?)</script>',
                       re.DOTALL)
SHOWN_RULE = re.compile(r'data-testid="refusal-rule">([^<]*)<')


def via_ui(desk: Desk, view: str, purpose: str, reference: str) -> Outcome:
    query = {"since": SINCE, "until": UNTIL, "purpose": purpose, "reference": reference}
    response = (desk.ui.get("/network/", {**query, "resolution": "1h"}) if view == "network"
                else desk.ui.get("/network/subscriber/", {**query, "account": ACCOUNT}))
    page = response.content.decode()
    if response.status_code == 403:
        shown = SHOWN_RULE.search(page)
        assert shown is not None, page
        return "refused", html.unescape(shown.group(1))
    assert response.status_code == 200, page
    # What the page was rendered from, as the other channels serialise it...
    answer = json.loads(json.dumps(response.context["report" if view == "network"
                                                    else "view"]))
    # ...less what the view adds for the template: the plots' element ids (checked against
    # the JSON the page embeds for its charts) and the devices' short list of end kinds.
    embedded = {name: json.loads(text) for name, text in PLOT_DATA.findall(page)}
    assert set(embedded) == {plot["dom_id"] for plot in answer["plots"]}
    for plot in answer["plots"]:
        assert embedded[plot["dom_id"]] == plot
        del plot["dom_id"]
    for group in (answer.get(key, []) for key in ("devices", "pops", "access_devices")):
        for device in group:
            del device["shown_ends"]
    if view == "network":
        assert page.count('data-testid="incident"') == len(answer["incidents"])
    else:
        assert f"Verdict: <strong>{answer['verdict']}</strong>" in page
    return "answer", answer


def first_difference(left: Any, right: Any, path: str = "") -> str:
    """Where two answers part, briefly: a whole report in an assertion message says nothing."""
    if isinstance(left, dict) and isinstance(right, dict):
        for key in sorted(left.keys() | right.keys(), key=str):
            if left.get(key, ...) != right.get(key, ...):
                return first_difference(left.get(key), right.get(key), f"{path}.{key}")
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple) \
            and len(left) == len(right):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            if a != b:
                return first_difference(a, b, f"{path}[{index}]")
    return f"{path or '(top)'}: {str(left)[:200]} != {str(right)[:200]}"


def ask_everywhere(desk: Desk, view: str, purpose: str, reference: str) -> Outcome:
    cli, cli_entries = audited(lambda: via_cli(desk, view, purpose, reference))
    api, api_entries = audited(lambda: via_api(desk, view, purpose, reference))
    ui, ui_entries = audited(lambda: via_ui(desk, view, purpose, reference))
    assert cli == api, f"{view}: CLI and API differ at {first_difference(cli, api)}"
    assert cli == ui, f"{view}: CLI and UI differ at {first_difference(cli, ui)}"
    # Exactly one entry per call, identical but for who asked and through which channel.
    assert [[e.channel for e in entries] for entries in (cli_entries, api_entries, ui_entries)
            ] == [["cli"], ["api"], ["web"]]
    first = comparable(cli_entries[0])
    assert comparable(api_entries[0]) == first
    assert comparable(ui_entries[0]) == first
    return cli


@pytest.mark.parametrize(("view", "role", "purpose", "reference"), cases())
def test_cli_api_and_ui_answer_alike(desk_for: Callable[[str], Desk], tmp_path: Path,
                                     subscriber: Subscriber, view: str, role: str,
                                     purpose: str, reference: str) -> None:
    allowed, rule, granted = expected(view, role, purpose, reference)
    if allowed:
        import_speed_tests(tmp_path)
    desk = desk_for(role)
    kind, answer = ask_everywhere(desk, view, purpose, reference)
    entries = AuditEntry.objects.filter(event=EVENTS[view])
    assert len(entries) == 3
    if not allowed:
        assert (kind, answer) == ("refused", rule)
        assert {(e.rule, e.outcome) for e in entries} == {(rule, "refused")}
        return
    assert kind == "answer"
    assert answer["decision"]["rule"] == rule
    assert {(e.rule, e.outcome, frozenset(e.categories)) for e in entries} == {
        (rule, "allowed", granted)}
    if view == "network":
        [incident] = answer["incidents"]
        assert (incident["group"], incident["cause"]) == (NASES[0], "nas-restart")
        # One subscriber tested: the spread is suppressed, alike on every channel.
        assert answer["speed_tests"]["subscribers"] is None
    else:
        assert answer["subscriber"] == {"id": subscriber.pk, "account_number": ACCOUNT}
        assert answer["verdict"] == "poor"
        assert {f["rule"] for f in answer["findings"]} >= {"slow-download"}
        assert {e.subject for e in entries} == {f"subscriber:{subscriber.pk}"}


def test_the_parity_matrix_covers_the_whole_policy() -> None:
    # Generated from the file: a role or purpose added to the policy grows the matrix.
    assert len(cases()) == len(VIEWS) * len(POLICY.roles) * (len(POLICY.purposes) + 1) * 2
    # The categories the views ask for are the ones docs/service-quality.md promises.
    assert asked("network") == (frozenset({"service_quality"}),) * 2
    assert asked("health")[1] == frozenset({"service_quality", "connectivity_logs"})
    for view in VIEWS:
        decided = [expected(*case.values) for case in cases() if case.values[0] == view]
        assert any(ok for ok, _, _ in decided), f"{view}: the matrix would test refusals only"
        rules = {rule for _, rule, _ in decided}
        assert {"deny:unknown-purpose", "deny:default"} <= rules
        assert any(rule.startswith("deny:forbidden-purpose:") for rule in rules)
        assert any(rule.endswith(":reference-required") for rule in rules)
    network_rules = {expected(*case.values)[1] for case in cases()
                     if case.values[0] == "network"}
    health_rules = {expected(*case.values)[1] for case in cases()
                    if case.values[0] == "health"}
    assert any(rule.endswith(":no-category") for rule in network_rules)
    assert any(rule.endswith(":missing-category") for rule in health_rules)


@pytest.mark.parametrize("view", VIEWS)
def test_a_naive_instant_is_refused_alike_and_never_audited(
        desk_for: Callable[[str], Desk], view: str) -> None:
    desk = desk_for("noc")
    naive = "2024-03-05T00:00:00"
    declared = {"purpose": "troubleshooting", "reference": "TKT-104233"}
    argv = ["report"] if view == "network" else ["subscriber", ACCOUNT]
    code = main(["quality", *argv, "--since", naive, "--until", UNTIL, "--purpose",
                 "troubleshooting", "--reference", "TKT-104233"])
    cli_error = desk.capsys.readouterr().err.strip().split(": ", 1)[1]
    query = {"since": naive, "until": UNTIL, **declared}
    if view == "network":
        api, ui = (desk.api.get("/api/quality/network/", query),
                   desk.ui.get("/network/", query))
    else:
        api, ui = (desk.api.get(f"/api/quality/subscriber/{ACCOUNT}/", query),
                   desk.ui.get("/network/subscriber/", {**query, "account": ACCOUNT}))
    assert (code, api.status_code, ui.status_code) == (2, 400, 422)
    assert "has no offset or zone" in cli_error
    assert api.json()["detail"] == cli_error
    assert ui.context["error"] == cli_error
    assert not AuditEntry.objects.filter(event__startswith="quality:").exists()


def test_an_unknown_account_is_not_found_alike_and_audited_alike(
        desk_for: Callable[[str], Desk]) -> None:
    desk = desk_for("noc")
    declared = {"purpose": "troubleshooting", "reference": "TKT-104233"}
    query = {"since": SINCE, "until": UNTIL, **declared}
    code = main(["quality", "subscriber", "A0000000", "--since", SINCE, "--until", UNTIL,
                 "--purpose", "troubleshooting", "--reference", "TKT-104233"])
    cli_error = desk.capsys.readouterr().err.strip().split(": ", 1)[1]
    api = desk.api.get("/api/quality/subscriber/A0000000/", query)
    ui = desk.ui.get("/network/subscriber/", {**query, "account": "A0000000"})
    assert (code, api.status_code, ui.status_code) == (4, 404, 422)
    assert ui.context["error"] == cli_error == "no subscriber with account A0000000"
    entries = list(AuditEntry.objects.filter(event=EVENTS["health"]).order_by("seq"))
    assert [e.channel for e in entries] == ["cli", "api", "web"]
    assert len({json.dumps(comparable(e)) for e in entries}) == 1
    assert (entries[0].outcome, entries[0].subject) == ("not_found", "account:A0000000")
