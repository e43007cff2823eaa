"""`cpniguard subscribers import`: all rows or none, bad rows reported by physical line, one
audit entry through the gate, and never a full card or bank number stored or echoed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.demo.sample_csv import write_sample_csv
from cpniguard.policy import current_policy
from cpniguard.subscribers.models import Address, Phone, Service, Subscriber
from tests.subscribers.samples import HEADER, good_row, write_csv

pytestmark = pytest.mark.django_db
OS_USER = "opsclerk"


@pytest.fixture(autouse=True)
def os_user(monkeypatch: pytest.MonkeyPatch) -> str:
    # getpass.getuser() reads these first: the CLI acts as whoever they name.
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)
    return OS_USER


@pytest.fixture
def admin(make_staff: Callable[..., StaffUser]) -> StaffUser:
    return make_staff("admin", os_username=OS_USER)


def run(*argv: str) -> int:
    return main(["subscribers", *argv])


def test_good_file_imports_every_row_with_one_audit_entry(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [good_row(n) for n in range(1, 31)]
    path = write_csv(tmp_path / "new.csv", rows)
    assert run("import", str(path)) == 0
    assert "imported 30 subscriber(s)" in capsys.readouterr().out
    assert Subscriber.objects.count() == 30
    assert Address.objects.filter(kind="billing").count() == 30
    boxed = Subscriber.objects.get(account_number=rows[6]["account_number"])  # n=7: PO box
    assert boxed.addresses.get(kind="billing").line1.startswith("PO Box")
    assert boxed.addresses.get(kind="service").line1.endswith("Orchard Hill Rd")
    # "(802) 555-0104;+1802..." became two normalised numbers, the first one primary.
    fourth = Subscriber.objects.get(account_number=rows[3]["account_number"])
    assert [(p.number, p.primary) for p in fourth.phones.order_by("-primary")] == [
        ("+18025550104", True), ("+18025550111", False)]
    assert Service.objects.filter(kind="static_ip").count() == 10
    for record in (boxed, *boxed.phones.all(), *boxed.services.all(), boxed.billing):
        record.full_clean()
    entry = AuditEntry.objects.get()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (entry.event, entry.outcome, entry.subject) == (
        "subscriber:record:import", "allowed", f"import:{digest}/rows:30")
    assert entry.rule == "grant:admin-onboarding"
    assert {"phone", "email", "billing_info", "services"} <= set(entry.categories)
    assert "billing_info.processor_token" in entry.fields
    stored = json.dumps([getattr(entry, f.name) for f in AuditEntry._meta.fields], default=str)
    for value in ("Tester", "example.net", "Orchard", "203.0.113", "4242", "tok_"):
        assert value not in stored


def test_the_demo_sample_file_imports_cleanly(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The demo's generated customers, in the documented layout, pass every import check.
    path = write_sample_csv(tmp_path / "demo.csv", 150, seed=3)
    assert run("import", str(path), "--json") == 0
    assert json.loads(capsys.readouterr().out)["imported"] == 150
    assert Subscriber.objects.count() == 150
    assert Service.objects.filter(kind="voip").exists()


def test_bad_rows_write_nothing_and_are_reported_by_physical_line(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [good_row(n) for n in range(1, 9)]
    rows[0]["service_line2"] = "Unit 4\nRear building"  # quoted cell spanning lines 2-3
    rows[0]["service_postal_code"] = "5660"
    rows[1]["service_started"] = "2019-02-30"             # line 4
    rows[3]["email"] = "not-an-email"                     # line 6
    rows[4]["kind"], rows[4]["business_name"] = "business", ""  # line 7
    rows[5]["account_number"] = rows[2]["account_number"]  # line 8 repeats line 5
    rows[6]["phone"] = "802-555-01"                        # line 9
    rows[7]["status"] = "dormant"                          # line 10
    path = write_csv(tmp_path / "bad.csv", rows)
    assert run("import", str(path)) == 1
    err = capsys.readouterr().err
    expected = {
        2: "service_postal_code: ",  # the model's own message follows
        4: "service_started: is not a calendar date",
        6: "email: ",
        7: "business_name: is required for a business account",
        8: "account_number: duplicate of line 5",
        9: "phone: ",
        10: "status: must be one of active, suspended, closed",
    }
    for line, reason in expected.items():
        assert f"{path}:{line}: {reason}" in err
    assert f"{path}:3:" not in err
    assert f"{path}:5:" not in err
    assert "7 bad row(s)" in err
    assert Subscriber.objects.count() == 0
    assert AuditEntry.objects.count() == 0  # nothing was read or written


def test_full_card_or_bank_number_is_refused_without_echoing_it(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [good_row(n) for n in range(1, 4)]
    rows[0]["processor_token"] = "4242 4242 4242 4242"
    rows[2]["billing_line2"] = "acct 000123456789"
    path = write_csv(tmp_path / "cards.csv", rows)
    assert run("import", str(path)) == 1
    err = capsys.readouterr().err
    assert f"{path}:2: processor_token: looks like a full card or bank account number" in err
    assert f"{path}:4: billing_line2: looks like a full card or bank account number" in err
    assert "4242 4242" not in err
    assert "123456789" not in err
    assert Subscriber.objects.count() == 0


def test_numeric_account_numbers_are_fine_but_card_numbers_are_not(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [good_row(1), good_row(2)]
    rows[0]["account_number"] = "80012345678"  # many ISPs number accounts with digits only
    rows[1]["account_number"] = "4242424242424242"
    path = write_csv(tmp_path / "accounts.csv", rows)
    assert run("import", str(path)) == 1
    err = capsys.readouterr().err
    assert f"{path}:3: account_number: looks like a full card" in err
    assert f"{path}:2:" not in err
    del rows[1]
    assert run("import", str(write_csv(tmp_path / "ok.csv", rows))) == 0
    assert Subscriber.objects.get().account_number == "80012345678"


def test_header_problems_are_reported_on_line_one(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = [name for name in HEADER if name != "service_city"] + ["ssn"]
    path = write_csv(tmp_path / "header.csv", [good_row(1)], header=header)
    assert run("import", str(path)) == 1
    err = capsys.readouterr().err
    assert f"{path}:1: unknown column(s) ssn" in err
    assert f"{path}:1: missing required column(s) service_city" in err


def test_unlinked_os_user_is_refused_and_audited(
    db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "new.csv", [good_row(n) for n in range(1, 4)])
    assert run("import", str(path), "--json") == 3
    captured = capsys.readouterr()
    assert "refused: " in captured.err
    assert "(rule deny:unknown-role)" in captured.err
    assert json.loads(captured.out)["rule"] == "deny:unknown-role"
    entry = AuditEntry.objects.get()
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert (entry.actor, entry.role, entry.outcome, entry.subject) == (
        f"os:{OS_USER}", "", "refused", f"import:{digest}")
    assert Subscriber.objects.count() == 0


def test_role_without_import_grant_is_refused(
    make_staff: Callable[..., StaffUser], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_staff("support", os_username=OS_USER)
    path = write_csv(tmp_path / "new.csv", [good_row(1)])
    assert run("import", str(path)) == 3
    assert "(rule deny:default)" in capsys.readouterr().err
    assert AuditEntry.objects.get().outcome == "refused"
    assert Subscriber.objects.count() == 0


def test_a_partial_import_grant_refuses_the_whole_file(
    admin: StaffUser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # An operator's policy that lets the admin import everything but billing information.
    text = (resources.files("cpniguard.policy") / "default_policy.toml").read_text()
    onboarding = text.index('id = "admin-onboarding"')
    text = text[:onboarding] + text[onboarding:].replace('"email", "billing_info", ',
                                                         '"email", ', 1)
    (tmp_path / "policy.toml").write_text(text)
    monkeypatch.setenv("CPNIGUARD_POLICY", str(tmp_path / "policy.toml"))
    current_policy.cache_clear()
    try:
        path = write_csv(tmp_path / "new.csv", [good_row(1)])
        assert run("import", str(path)) == 3
        assert "does not let you import billing_info" in capsys.readouterr().err
        entry = AuditEntry.objects.get()
        assert (entry.outcome, entry.rule) == ("failed", "grant:admin-onboarding")
        assert entry.subject.endswith("/not-granted:billing_info")
        assert Subscriber.objects.count() == 0
        without_billing = {**good_row(2), "payment_method": "", "processor": "",
                           "processor_token": "", "card_last4": ""}
        assert run("import", str(write_csv(tmp_path / "nb.csv", [without_billing]))) == 0
    finally:
        current_policy.cache_clear()


def test_accounts_already_in_the_database_reject_the_whole_file(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("import", str(write_csv(tmp_path / "a.csv", [good_row(1), good_row(3)]))) == 0
    second = write_csv(tmp_path / "b.csv", [good_row(2), good_row(3), good_row(4)])
    assert run("import", str(second), "--json") == 1
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert report["errors"] == [
        {"line": 3, "reason": "account_number: already exists in the database"},
        {"line": 3, "reason": "static_ip: already assigned to another subscriber"}]
    assert Subscriber.objects.count() == 2
    assert AuditEntry.objects.order_by("seq").last().outcome == "failed"  # type: ignore[union-attr]


def test_dry_run_validates_and_writes_nothing(
    admin: StaffUser, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "new.csv", [good_row(n) for n in range(1, 6)])
    assert run("import", str(path), "--dry-run", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["valid"], report["rows"], report["imported"]) == (True, 5, 0)
    assert Subscriber.objects.count() == 0
    assert Phone.objects.count() == 0
    assert AuditEntry.objects.get().subject.endswith("/dry-run-rows:5")


def test_unreadable_file_exits_2(admin: StaffUser, tmp_path: Path) -> None:
    assert run("import", str(tmp_path / "missing.csv")) == 2
