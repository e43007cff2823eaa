"""Attribution parity, generated from the policy file: the CLI, the API and the web UI give
the same staff member the same answer, or the same refusal, and audit it alike.

Every role x every purpose in the policy plus one it does not know x with and without a
valid reference. The expected decision comes from `Policy.decide` (plus the gate's rule that
an attribution without the connectivity logs is refused), never from a hand-written table.
Allowed combinations ask every kind of question of the scene (match, ambiguous handover,
shared CGNAT address with and without its port, nobody); the answer must be the same
dictionary on all three channels, the subscriber masked by the purpose. Each call must
write exactly one audit entry, identical on the three channels but for actor and channel.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.accounts.twofactor import SESSION_KEY
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.connectivity.answers import CATEGORIES
from cpniguard.policy import AccessRequest, Action, current_policy
from cpniguard.subscribers.models import Subscriber
from tests.connectivity import attribution_scene as scene

pytestmark = pytest.mark.django_db

POLICY = current_policy()
UNKNOWN_PURPOSE = "bogus"
PURPOSES = (*POLICY.purposes, UNKNOWN_PURPOSE)
OS_USER = "paritydesk"
# Channel, then (kind, payload): kind "answer" with the answer, or "refused" with the rule.
Outcome = tuple[str, Any]


def valid_reference(role: str, purpose: str) -> str:
    """The example reference of the kind a read grant of (role, purpose) requires; for
    combinations with no such grant, a well-formed ticket (it must not matter)."""
    for grant in POLICY.grants:
        if (grant.role, grant.purpose) == (role, purpose) and Action.READ in grant.actions \
                and grant.reference:
            return POLICY.references[grant.reference].example
    return POLICY.references["ticket"].example


def expected(role: str, purpose: str, reference: str) -> tuple[bool, str, frozenset[str]]:
    decision = POLICY.decide(AccessRequest(role, purpose, Action.READ, CATEGORIES,
                                           reference or None))
    if decision.allowed and "connectivity_logs" not in decision.granted:
        return False, f"{decision.rule}:missing-category", frozenset()
    return decision.allowed, decision.rule, decision.granted


def cases() -> list[Any]:
    return [pytest.param(role, purpose, reference, id=f"{role}-{purpose}-{label}")
            for role in POLICY.roles for purpose in PURPOSES
            for label, reference in (("with-reference", valid_reference(role, purpose)),
                                     ("no-reference", ""))]


@dataclass
class Desk:
    """One staff member on all three channels."""

    user: StaffUser
    ui: Client
    api: APIClient
    capsys: pytest.CaptureFixture[str]


@pytest.fixture
def desk_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subscriber: Subscriber,
             capsys: pytest.CaptureFixture[str]) -> Callable[[str], Desk]:
    scene.install(tmp_path, monkeypatch, subscriber)
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)

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


def audited(call: Callable[[], Outcome]) -> tuple[Outcome, list[AuditEntry]]:
    last = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    outcome = call()
    return outcome, list(AuditEntry.objects.filter(seq__gt=last).order_by("seq"))


def comparable(entry: AuditEntry) -> dict[str, object]:
    return {"role": entry.role, "event": entry.event, "purpose": entry.purpose,
            "reference": entry.reference, "subject": entry.subject,
            "categories": entry.categories, "fields": entry.fields,
            "outcome": entry.outcome, "rule": entry.rule, "reason": entry.reason}


def via_cli(desk: Desk, argv: list[str]) -> Outcome:
    desk.capsys.readouterr()
    code = main(["attribute", *argv, "--json"])
    out = json.loads(desk.capsys.readouterr().out)
    if code == 3:
        return "refused", out["rule"]
    assert code == 0, out
    return "answer", out


def via_api(desk: Desk, body: dict[str, Any]) -> Outcome:
    response = desk.api.post("/api/attribution/", body, format="json")
    if response.status_code == 403:
        return "refused", response.json()["rule"]
    assert response.status_code == 200, response.json()
    return "answer", response.json()


def via_ui(desk: Desk, form: dict[str, str]) -> Outcome:
    response = desk.ui.post("/attribution/", form)
    if response.status_code == 403:
        return "refused", response.context["decision"].rule
    assert response.status_code == 200, response.content
    html = response.content.decode()
    result = response.context["result"]
    # What the page shows is built from this dictionary; check it is actually shown.
    assert result["at"] == scene.AT_UTC
    assert scene.AT_SHOWN in html
    assert f">{result['status']}</span>" in html
    named = result["subscriber"]
    if named is not None:
        assert (named["name"] or "masked for this purpose") in html
    return "answer", json.loads(json.dumps(result))  # as the other channels serialise it


def ask_everywhere(desk: Desk, target: str, purpose: str, reference: str) -> Outcome:
    declared = {"purpose": purpose, "reference": reference}
    cli_argv = [target, "--at", scene.AT_ZONED, "--purpose", purpose,
                *(["--reference", reference] if reference else [])]
    cli, cli_entries = audited(lambda: via_cli(desk, cli_argv))
    api, api_entries = audited(lambda: via_api(
        desk, {"address": target, "at": scene.AT_ZONED, **declared}))
    ui, ui_entries = audited(lambda: via_ui(
        desk, {"address": target, "at": scene.AT_ZONED, "skew": "2", **declared}))
    assert cli == api == ui, f"{target}: CLI {cli}\nAPI {api}\nUI {ui}"
    assert [e.channel for e in cli_entries + api_entries + ui_entries] == ["cli", "api", "web"]
    first = comparable(cli_entries[0])
    assert comparable(api_entries[0]) == first
    assert comparable(ui_entries[0]) == first
    return cli


@pytest.mark.parametrize(("role", "purpose", "reference"), cases())
def test_cli_api_and_ui_answer_alike(desk_for: Callable[[str], Desk], subscriber: Subscriber,
                                     role: str, purpose: str, reference: str) -> None:
    desk = desk_for(role)
    allowed, rule, granted = expected(role, purpose, reference)
    if not allowed:
        assert ask_everywhere(desk, scene.MATCH, purpose, reference) == ("refused", rule)
        assert AuditEntry.objects.get(channel="cli").rule == rule
        return
    for target, status in scene.QUESTIONS.items():
        kind, answer = ask_everywhere(desk, target, purpose, reference)
        assert (kind, answer["status"], answer["at"]) == ("answer", status, scene.AT_UTC)
        if status == "match":
            assert answer["subscriber"] == {
                "id": subscriber.pk,
                "account_number": "A1000001" if "account" in granted else None,
                "name": "Dana Whitfield" if "name" in granted else None,
                "service_town": "Millbrook, VT" if "service_address" in granted else None}
    entries = AuditEntry.objects.all()
    assert len(entries) == 3 * len(scene.QUESTIONS)
    assert {(e.rule, e.outcome) for e in entries} == {(rule, "allowed")}


def test_a_naive_time_is_refused_alike_and_never_audited(
        desk_for: Callable[[str], Desk]) -> None:
    desk = desk_for("noc")
    declared = {"purpose": "troubleshooting", "reference": "TKT-104233"}
    code = main(["attribute", scene.MATCH, "--at", scene.AT_NAIVE, "--purpose",
                 "troubleshooting", "--reference", "TKT-104233"])
    cli_error = desk.capsys.readouterr().err.strip().removeprefix("cpniguard attribute: ")
    api = desk.api.post("/api/attribution/", {"address": scene.MATCH, "at": scene.AT_NAIVE,
                                              **declared}, format="json")
    ui = desk.ui.post("/attribution/", {"address": scene.MATCH, "at": scene.AT_NAIVE,
                                        **declared})
    assert (code, api.status_code, ui.status_code) == (2, 400, 400)
    assert "has no offset or zone" in cli_error
    assert api.json()["errors"]["at"] == [cli_error]
    assert list(ui.context["form"].non_field_errors()) == [cli_error]
    assert not AuditEntry.objects.exists()


BATCH_DECLARED = [("noc", "troubleshooting", "TKT-104233"),
                  ("custodian", "legal_process", "LR-2026-0042"),
                  ("support", "troubleshooting", "TKT-104233")]


@pytest.mark.parametrize(("role", "purpose", "reference"), BATCH_DECLARED)
def test_a_batch_is_answered_alike(desk_for: Callable[[str], Desk], tmp_path: Path,
                                   role: str, purpose: str, reference: str) -> None:
    desk = desk_for(role)
    rows = [{"id": f"q{n}", "address": target, "at": scene.AT_ZONED}
            for n, target in enumerate(scene.QUESTIONS)]
    questions = tmp_path / "questions.csv"
    questions.write_text("id,address,port,at\n" + "".join(
        f"{r['id']},{r['address']},,{r['at']}\n" for r in rows))
    declared = ["--purpose", purpose, "--reference", reference]

    def cli(*output: str) -> Outcome:
        code = main(["attribute", "--batch", str(questions), *declared, *output])
        captured = desk.capsys.readouterr()
        if code == 3:  # the CSV output gives the refusal on stderr only
            found = re.search(r"\(rule ([^)]+)\)$", captured.err.strip())
            assert found is not None, captured.err
            return "refused", found.group(1)
        assert code == 0, captured.err
        return "answer", captured.out

    def api() -> Outcome:
        response = desk.api.post("/api/attribution/batch/", {
            "purpose": purpose, "reference": reference, "rows": rows}, format="json")
        if response.status_code == 403:
            return "refused", response.json()["rule"]
        return "answer", json.dumps(response.json()["results"]) + "\n"

    def ui() -> Outcome:
        with questions.open("rb") as handle:
            response = desk.ui.post("/attribution/batch/", {
                "questions": handle, "purpose": purpose, "reference": reference})
        if response.status_code == 403:
            return "refused", response.context["decision"].rule
        return "answer", response.content.decode()

    (cli_json, json_entries), (cli_csv, csv_entries) = (
        audited(lambda: cli("--json")), audited(lambda: cli()))
    (api_json, api_entries), (ui_csv, ui_entries) = audited(api), audited(ui)
    assert cli_json == api_json
    assert cli_csv == ui_csv
    allowed, rule, _ = expected(role, purpose, reference)
    if allowed:
        assert cli_json[0] == cli_csv[0] == "answer"
    else:
        assert cli_json == cli_csv == ("refused", rule)
    every = [json_entries, csv_entries, api_entries, ui_entries]
    assert [len(e) for e in every] == [1, 1, 1, 1]
    assert len({json.dumps(comparable(e[0])) for e in every}) == 1
    assert json_entries[0].rule == rule


def test_the_parity_matrix_covers_the_whole_policy() -> None:
    # Generated from the file: a role or purpose added to the policy grows the matrix.
    assert len(cases()) == len(POLICY.roles) * (len(POLICY.purposes) + 1) * 2
    decided = [expected(*case.values) for case in cases()]
    allowed = [granted for ok, _, granted in decided if ok]
    assert allowed, "no combination attributes anything: the matrix would test refusals only"
    # Masking shows: some allowed purpose sees the subscriber's name and some does not.
    assert {"name" in granted for granted in allowed} == {True, False}
    rules = {rule for _, rule, _ in decided}
    assert {"deny:unknown-purpose", "deny:default"} <= rules
    assert any(rule.startswith("deny:forbidden-purpose:") for rule in rules)
    assert any(rule.endswith(":missing-category") for rule in rules)
    assert any(rule.endswith(":reference-required") for rule in rules)
