"""Intake through the CLI and the API: attachments kept by hash and unaltered, malformed input
answered clearly, and the same answer for the same person on both channels."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.legal import attachments
from cpniguard.legal.models import Attachment, LegalRequest

pytestmark = pytest.mark.django_db
CERTIFICATE = b"%PDF-1.4\n% a fictional certification of an emergency\n%%EOF\n"


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(["legal", *argv, "--json"])
    out = capsys.readouterr().out.strip()
    return code, json.loads(out) if out else None


def api_for(user: StaffUser) -> APIClient:
    _, secret = ApiToken.issue(user, "tests", timezone.now() + timedelta(days=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_attachments_are_stored_once_by_hash_read_only_and_unaltered(
        tmp_path: Path, subpoena: dict[str, Any], as_os_user: Callable[..., StaffUser],
        capsys: pytest.CaptureFixture[str]) -> None:
    as_os_user("custodian", "dana")
    request_file = tmp_path / "subpoena.json"
    request_file.write_text(json.dumps(subpoena))
    certificate = tmp_path / "certificate.pdf"
    certificate.write_bytes(CERTIFICATE)
    code, view = cli_json(capsys, "import", str(request_file), "--attach", str(certificate))
    assert code == 0
    by_name = {a["name"]: a for a in view["attachments"]}
    assert set(by_name) == {"subpoena.json", "certificate.pdf"}
    sha = hashlib.sha256(CERTIFICATE).hexdigest()
    assert by_name["certificate.pdf"]["sha256"] == sha
    assert by_name["certificate.pdf"]["content_type"] == "application/pdf"
    assert by_name["subpoena.json"]["sha256"] == hashlib.sha256(
        request_file.read_bytes()).hexdigest()
    kept = attachments.attachment_dir() / sha
    assert kept.read_bytes() == CERTIFICATE
    assert not kept.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    # A second request with the same file shares the bytes and leaves them as they were.
    assert cli_json(capsys, "import", str(request_file), "--attach", str(certificate))[0] == 0
    assert Attachment.objects.filter(sha256=sha).count() == 2
    assert attachments.read(sha) == CERTIFICATE
    # Bytes altered behind the desk's back are caught when read.
    kept.chmod(0o644)
    kept.write_bytes(CERTIFICATE + b"tampered")
    with pytest.raises(attachments.AttachmentDamaged):
        attachments.read(sha)


def test_malformed_files_are_refused_clearly_and_fields_become_findings(
        tmp_path: Path, as_os_user: Callable[..., StaffUser],
        capsys: pytest.CaptureFixture[str]) -> None:
    as_os_user("custodian", "dana")
    broken = tmp_path / "broken.json"
    broken.write_text('{"kind": "grand_jury_subpoena", ')
    assert main(["legal", "import", str(broken)]) == 2
    assert "not a JSON document" in capsys.readouterr().err
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    assert main(["legal", "import", str(listed)]) == 2
    assert "JSON object" in capsys.readouterr().err
    assert main(["legal", "import", str(tmp_path / "missing.json")]) == 2
    assert not LegalRequest.objects.exists()
    garbled = tmp_path / "garbled.json"
    garbled.write_text(json.dumps({"kind": "search_warrant", "signed": "yes",
                                   "served": "2026-11-23 10:15", "targets": [{"kind": "ip"}],
                                   "date_range": "last week", "categories": "everything"}))
    code, view = cli_json(capsys, "import", str(garbled))
    assert code == 0
    found = {(f["code"], f["field"]) for f in view["findings"] if f["severity"] == "error"}
    assert {("field-malformed", "signature"), ("field-malformed", "served"),
            ("target-malformed", "targets"), ("field-malformed", "date_range"),
            ("field-malformed", "categories"), ("field-required", "court")} <= found


def test_cli_and_api_give_one_person_the_same_answer(
        subpoena: dict[str, Any], as_os_user: Callable[..., StaffUser],
        capsys: pytest.CaptureFixture[str]) -> None:
    dana = as_os_user("custodian", "dana")
    api = api_for(dana)
    created = api.post("/api/legal/requests/", {"document": subpoena, "attachments": [
        {"name": "cert.pdf", "content_base64": base64.b64encode(CERTIFICATE).decode()}]},
        format="json")
    assert created.status_code == 201, created.json()
    reference = created.json()["reference"]
    code, shown = cli_json(capsys, "show", reference)
    assert code == 0
    assert api.get(f"/api/legal/requests/{reference}/").json() == shown
    code, listed = cli_json(capsys, "list")
    assert api.get("/api/legal/requests/").json() == {"results": listed}
    assert listed[0]["reference"] == reference
    assert listed[0]["overdue"] is False
    assert api.get("/api/legal/requests/", {"status": "closed"}).json() == {"results": []}
    assert api.get("/api/legal/requests/", {"status": "lost"}).status_code == 400
    # One audit entry per read, identical but for the channel (and the CLI's OS user).
    reads = AuditEntry.objects.filter(event="legal:request:read").order_by("seq")
    assert [(e.channel, e.outcome, e.reference) for e in reads] == [
        ("cli", "allowed", reference), ("api", "allowed", reference)]


def test_the_workflow_answers_alike_on_both_channels(
        subpoena: dict[str, Any], as_os_user: Callable[..., StaffUser],
        make_staff: Callable[..., StaffUser], capsys: pytest.CaptureFixture[str]) -> None:
    dana = as_os_user("custodian", "dana")
    api = api_for(dana)
    reference = api.post("/api/legal/requests/", {"document": subpoena},
                         format="json").json()["reference"]
    assert cli_json(capsys, "transition", reference, "--to", "validating")[0] == 0
    assert cli_json(capsys, "approve", reference)[0] == 0
    again = api.post(f"/api/legal/requests/{reference}/approve/", {}, format="json")
    assert again.status_code == 409
    assert "already approved" in again.json()["detail"]
    code, refused = cli_json(capsys, "approve", reference)
    assert code == 1
    assert "already approved" in refused["error"]
    counsel = api_for(make_staff("counsel", "casey"))
    approved = counsel.post(f"/api/legal/requests/{reference}/approve/", {}, format="json")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"
    code, _ = cli_json(capsys, "transition", reference, "--to", "withdrawn")
    assert code == 0


def test_a_non_custodian_is_refused_on_both_channels_and_audited(
        subpoena: dict[str, Any], as_os_user: Callable[..., StaffUser],
        capsys: pytest.CaptureFixture[str]) -> None:
    dana = as_os_user("custodian", "dana")
    reference = api_for(dana).post("/api/legal/requests/", {"document": subpoena},
                                   format="json").json()["reference"]
    support = as_os_user("support", "sam")
    code, refused = cli_json(capsys, "show", reference)
    assert code == 3
    assert refused["rule"] == "deny:default"
    answer = api_for(support).get(f"/api/legal/requests/{reference}/")
    assert answer.status_code == 403
    assert answer.json()["rule"] == "deny:default"
    assert api_for(support).get("/api/legal/requests/").status_code == 403
    refusals = AuditEntry.objects.filter(outcome="refused", actor__startswith="sam")
    assert sorted(e.event for e in refusals) == ["legal:request:read", "legal:request:read",
                                                 "legal:request:search"]
