"""Policy files: line-numbered errors, the CLI checker, and the notice rendered from the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cpniguard.cli import main
from cpniguard.policy import InvalidPolicy, Policy, parse_policy
from cpniguard.policy.loader import default_policy_text
from cpniguard.policy.notice import render_html, render_markdown


def line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_shipped_policy_is_valid() -> None:
    assert parse_policy(default_policy_text()).version


def test_semantic_errors_point_at_their_lines() -> None:
    text = default_policy_text().replace('role = "noc"', 'role = "nightshift"', 1)
    text = text.replace("disclosure_log = 1825", "disclosure_log = 30")
    with pytest.raises(InvalidPolicy) as raised:
        parse_policy(text, "ops.toml")
    errors = {e.line: e.message for e in raised.value.errors}
    assert "unknown role 'nightshift'" in errors[line_of(text, 'role = "nightshift"')]
    assert "at least 365 days" in errors[line_of(text, "disclosure_log = 30")]


def test_granting_a_forbidden_purpose_is_an_error() -> None:
    text = default_policy_text().replace(
        'purpose = "billing"\nactions', 'purpose = "marketing"\nactions', 1)
    with pytest.raises(InvalidPolicy, match="forbidden and cannot be granted"):
        parse_policy(text)


def test_dropping_a_forbidden_purpose_is_an_error() -> None:
    text = default_policy_text().replace("[purposes.sale]\nlabel = \"Sale of data\"\n"
                                         "forbidden = true", "[purposes.sale]\nlabel = \"Sale\"")
    with pytest.raises(InvalidPolicy, match="'sale' must be declared with forbidden = true"):
        parse_policy(text)


def test_syntax_error_has_a_line() -> None:
    text = default_policy_text() + "\n[broken\n"
    with pytest.raises(InvalidPolicy) as raised:
        parse_policy(text)
    assert raised.value.errors[0].line == len(text.splitlines())


def test_cli_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "good.toml"
    good.write_text(default_policy_text())
    assert main(["policy", "check", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(default_policy_text().replace('reference = "ticket"', 'reference = "memo"'))
    assert main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    line = line_of(bad.read_text(), 'reference = "memo"')
    assert f"{bad}:{line}: grant support-troubleshooting: unknown reference kind 'memo'" in err


def test_notice_follows_the_enforced_rules(policy: Policy) -> None:
    markdown = render_markdown(policy)
    assert "We never sell your information." in markdown
    assert "Only to answer a valid, legally mandated request" in markdown
    # Taking billing_info out of every grant removes it from the uses the notice lists.
    text = default_policy_text().replace('"billing_info", ', "")
    narrowed = render_markdown(parse_policy(text))
    assert "Billing information is used for" in markdown
    assert "Billing information is used for" not in narrowed
    html = render_html(policy)
    assert html.startswith("<!doctype html>")
    assert "<script" not in html
