"""`cpniguard staff ...` and `cpniguard token ...`, run in-process like a shell would."""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Callable

import pytest
from django.contrib.auth import authenticate
from django.test import Client

from cpniguard.accounts.models import ApiToken, StaffUser
from cpniguard.audit.models import AuditEntry
from cpniguard.cli import main
from cpniguard.policy import current_policy

pytestmark = pytest.mark.django_db
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_staff_create_prints_a_working_password_once(cli: Run) -> None:
    code, out, _ = cli("staff", "create", "alice", "--role", "support", "--os-user", "alice")
    assert code == 0
    password = re.search(r"Password \(shown once; hand it over privately\): (\S+)", out)
    assert password
    user = StaffUser.objects.get(username="alice")
    assert (user.role, user.os_username, user.is_active) == ("support", "alice", True)
    assert password.group(1) not in user.password  # stored as an Argon2 hash
    assert user.password.startswith("argon2")
    assert authenticate(username="alice", password=password.group(1)) == user
    assert len(password.group(1)) >= 25
    entry = AuditEntry.objects.get()
    assert (entry.event, entry.subject, entry.channel) == ("account:staff:create",
                                                           "staff:alice", "cli")
    assert entry.actor == f"os:{getpass.getuser()}"
    assert password.group(1) not in str(entry.__dict__)
    # Not shown again anywhere.
    assert password.group(1) not in cli("staff", "list", "--json")[1]


def test_unknown_roles_are_refused_listing_the_valid_ones(cli: Run) -> None:
    code, out, err = cli("staff", "create", "mallory", "--role", "root")
    assert code == 1
    assert out == ""
    assert "unknown role 'root'" in err
    for role in current_policy().roles:
        assert role in err
    assert not StaffUser.objects.exists()
    assert not AuditEntry.objects.exists()


def test_duplicate_username_and_taken_os_user_are_refused(cli: Run) -> None:
    cli("staff", "create", "bob", "--role", "noc", "--os-user", "bob")
    assert "already exists" in cli("staff", "create", "bob", "--role", "noc")[2]
    code, _, err = cli("staff", "create", "robert", "--role", "noc", "--os-user", "bob")
    assert code == 1
    assert "already acts as 'bob'" in err


def test_list_shows_accounts_as_text_and_json(cli: Run) -> None:
    cli("staff", "create", "carol", "--role", "auditor")
    cli("staff", "create", "dave", "--role", "custodian", "--os-user", "dave")
    code, out, _ = cli("staff", "list", "--json")
    listed = json.loads(out)
    assert code == 0
    assert [(s["username"], s["role"], s["os_user"], s["second_factor"]) for s in listed] == [
        ("carol", "auditor", "", False), ("dave", "custodian", "dave", False)]
    text = cli("staff", "list")[1]
    assert text.splitlines()[0].split() == ["USERNAME", "ROLE", "ACTIVE", "2FA", "OS", "USER",
                                            "LAST", "LOGIN"]
    assert "custodian" in text
    assert "never" in text


def test_link_os_user_makes_the_cli_act_as_that_staff_member(cli: Run) -> None:
    cli("staff", "create", "erin", "--role", "billing")
    me = getpass.getuser()
    code, out, _ = cli("staff", "link-os-user", "erin", me)
    assert code == 0
    assert f"{me!r} now acts as 'erin'" in out
    cli("staff", "create", "frank", "--role", "support")  # now done by erin via the CLI
    entry = AuditEntry.objects.filter(subject="staff:frank").get()
    assert (entry.actor, entry.role) == (f"erin (os:{me})", "billing")
    assert AuditEntry.objects.filter(event="account:staff:link-os-user",
                                     subject="staff:erin").count() == 1


def test_deactivate_blocks_sign_in_and_revokes_tokens(cli: Run) -> None:
    _, out, _ = cli("staff", "create", "gina", "--role", "support")
    password = out.rsplit(": ", 1)[1].strip()
    secret = cli("token", "issue", "gina", "--days", "7")[1].rsplit(": ", 1)[1].strip()
    code, out, _ = cli("staff", "deactivate", "gina")
    assert code == 0
    assert "revoked 1 live API token(s)" in out
    assert authenticate(username="gina", password=password) is None
    response = Client().get("/api/policy/", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401
    assert cli("staff", "deactivate", "nobody")[0] == 1


def test_token_issue_and_revoke_by_prefix(cli: Run) -> None:
    cli("staff", "create", "hank", "--role", "noc")
    code, out, _ = cli("token", "issue", "hank", "--days", "30", "--name", "monitoring")
    assert code == 0
    secret = re.search(r"Secret \(shown once; .*\): (cpg_\S+)", out)
    assert secret
    token = ApiToken.objects.get()
    assert (token.name, token.user.username) == ("monitoring", "hank")
    bearer = {"Authorization": f"Bearer {secret.group(1)}"}
    assert Client().get("/api/policy/", headers=bearer).status_code == 200
    assert cli("token", "revoke", "cpg_")[0] == 1  # too short to be sure which token
    code, out, _ = cli("token", "revoke", token.prefix)
    assert code == 0
    assert f"Revoked token {token.prefix}" in out
    assert Client().get("/api/policy/", headers=bearer).json()["detail"] == "token revoked"
    events = list(AuditEntry.objects.filter(event__startswith="account:token:")
                  .values_list("event", flat=True))
    assert events == ["account:token:issue", "account:token:revoke"]
    assert all(secret.group(1) not in str(e.__dict__) for e in AuditEntry.objects.all())


def test_token_lifetime_is_bounded(cli: Run) -> None:
    cli("staff", "create", "ivy", "--role", "noc")
    code, _, err = cli("token", "issue", "ivy", "--days", "400")
    assert code == 1
    assert "between 1 and 365 days" in err
    assert cli("token", "issue", "nobody", "--days", "3")[0] == 1


def test_reset_second_factor_makes_the_user_enrol_again(cli: Run) -> None:
    cli("staff", "create", "jay", "--role", "admin")
    StaffUser.objects.filter(username="jay").update(totp_secret="A" * 32, totp_confirmed=True)
    assert cli("staff", "reset-second-factor", "jay")[0] == 0
    user = StaffUser.objects.get(username="jay")
    assert (user.totp_secret, user.totp_confirmed) == ("", False)
