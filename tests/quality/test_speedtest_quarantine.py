"""`quality speedtest quarantine`: the lines an import could not use, listed through the gate."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cpniguard.access import Actor
from cpniguard.access.gate import AccessRefused
from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.quality.speedtest_quarantine import quarantined
from cpniguard.quality.speedtests import import_file
from cpniguard.subscribers.models import Subscriber
from tests.quality.conftest import OS_USER
from tests.quality.test_speedtests import FORWARD, REFUSED, SAMPLE_CSV, TICKET


def last_entry() -> AuditEntry:
    return AuditEntry.objects.order_by("-seq").first()  # type: ignore[return-value]


@pytest.fixture
def imported(subscriber: Subscriber, actor_for: Callable[[str], Actor]) -> str:
    """A good result, a refused-connection error document and the sample CSV imported; the
    error document's SHA-256 returned."""
    noc = actor_for("noc")
    import_file(noc, FORWARD, "iperf3", account="A1000001", purpose="troubleshooting",
                reference=TICKET)
    import_file(noc, SAMPLE_CSV, "csv", purpose="network_quality")
    error = import_file(noc, REFUSED, "iperf3", account="A1000001", purpose="troubleshooting",
                        reference=TICKET)
    assert error.quarantined == 1
    return error.sha256


@pytest.mark.django_db
def test_noc_lists_each_line_with_file_line_and_reason_and_the_read_is_audited(
        imported: str, actor_for: Callable[[str], Actor]) -> None:
    rows = quarantined(actor_for("noc"), purpose="network_quality", reference=None)
    by_file = {row["sha256"]: row for row in rows}
    error = by_file[imported]
    assert (error["file"], error["line"], error["format"]) == (str(REFUSED), 1, "iperf3")
    assert "Connection refused" in error["reason"]
    assert '"error"' in error["text"]
    entry = last_entry()
    assert (entry.event, entry.outcome, entry.role) == (
        "quality:speedtests:quarantine:read", "allowed", "noc")
    assert imported[:16] in entry.subject
    only = quarantined(actor_for("noc"), purpose="network_quality", reference=None,
                       file=imported[:10])
    assert [row["sha256"] for row in only] == [imported]
    assert quarantined(actor_for("noc"), purpose="network_quality", reference=None,
                       file=str(FORWARD)) == []


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["support", "billing"])
def test_support_and_billing_are_refused_and_the_refusal_is_audited(
        imported: str, actor_for: Callable[[str], Actor], role: str) -> None:
    with pytest.raises(AccessRefused):
        quarantined(actor_for(role), purpose="network_quality", reference=None)
    assert (last_entry().outcome, last_entry().role) == ("refused", role)


@pytest.mark.django_db
def test_the_cli_lists_as_text_and_json_and_refuses_with_exit_3(
        imported: str, as_role: Callable[[str], None],
        capsys: pytest.CaptureFixture[str]) -> None:
    as_role("noc")
    assert main(["quality", "speedtest", "quarantine"]) == 0
    out = capsys.readouterr().out
    assert f"{REFUSED}:1 (iperf3, {imported[:12]}): " in out
    assert main(["quality", "speedtest", "quarantine", "--json", "--file", imported]) == 0
    listed = json.loads(capsys.readouterr().out)["quarantined"]
    assert [(row["line"], row["sha256"]) for row in listed] == [(1, imported)]
    StaffUser.objects.filter(os_username=OS_USER).update(role="support")
    assert main(["quality", "speedtest", "quarantine", "--json"]) == 3
    captured = capsys.readouterr()
    assert "refused:" in captured.err
    assert json.loads(captured.out)["error"] == "refused"
