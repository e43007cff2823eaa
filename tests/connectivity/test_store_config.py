"""One configured log store: `--store`, else CPNIGUARD_LOGSTORE, else $CPNIGUARD_HOME/logstore,
the same for ingest, attribution and retention; the tools that read the embedded store's files
refuse ClickHouse clearly."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cpniguard.accounts.models import StaffUser
from cpniguard.cli import main
from cpniguard.connectivity.answers import default_store
from cpniguard.connectivity.question import Usage
from cpniguard.connectivity.store import EmbeddedLogStore, open_store
from cpniguard.connectivity.store.clickhouse import ClickHouseLogStore
from cpniguard.connectivity.store.clickhouse_client import ConnectExecutor, parse_url
from cpniguard.connectivity.store_config import (
    EmbeddedOnly,
    configured_location,
    configured_store,
    display_name,
    embedded_root,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "connectivity"
V3 = FIXTURES / "synthetic-v3-detail.txt"  # 4 sessions on 2024-03-04, alice among them
OS_USER = "opsdesk"
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CPNIGUARD_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CPNIGUARD_LOGSTORE", raising=False)
    return tmp_path / "home"


@pytest.fixture
def chdb_url(chdb_engine: ConnectExecutor, tmp_path: Path) -> Iterator[str]:
    """A URL naming the test run's chDB engine (one data directory per process) and a
    database of this test's own."""
    url = f"{chdb_engine.location}?database=cfg_{tmp_path.name[-10:].replace('-', '_')}"
    yield url
    chdb_engine.command(f"DROP DATABASE IF EXISTS {parse_url(url).database} SYNC")


@pytest.fixture
def as_role(monkeypatch: pytest.MonkeyPatch,
            make_staff: Callable[..., StaffUser]) -> Callable[[str], None]:
    for name in ("LOGNAME", "USER"):
        monkeypatch.setenv(name, OS_USER)

    def link(role: str) -> None:
        StaffUser.objects.filter(os_username=OS_USER).update(os_username=None)
        make_staff(role, username=f"{role}-{StaffUser.objects.count() + 1}",
                   os_username=OS_USER)

    return link


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_the_flag_wins_then_the_variable_then_the_home(
        home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert configured_location() == str(home / "logstore")
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", str(tmp_path / "from-env"))
    assert configured_location() == str(tmp_path / "from-env")
    assert configured_location(tmp_path / "flag") == str(tmp_path / "flag")
    store = configured_store()
    assert isinstance(store, EmbeddedLogStore)
    assert store.root == tmp_path / "from-env"
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", "chdb://relative/path")
    with pytest.raises(Usage, match="chdb:///absolute/path"):
        configured_store()


def test_display_names_are_canonical_and_carry_no_password(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CPNIGUARD_CLICKHOUSE_PASSWORD", "env-secret")
    assert display_name("clickhouse://noc:s3cret@logs.example.net/isp") == \
        "clickhouse://noc@logs.example.net:8123/isp?table=intervals"
    assert display_name("clickhouses://logs.example.net:8443/?table=t&cluster=c1") == \
        "clickhouses://default@logs.example.net:8443/cpniguard?table=t&cluster=c1"
    assert display_name("chdb:///srv/chdb") == "chdb:///srv/chdb?database=cpniguard&table=intervals"
    assert display_name(tmp_path / "x" / ".." / "store") == str((tmp_path / "store").resolve())
    with pytest.raises(ValueError, match="option"):
        display_name("chdb:///srv/chdb?pasword=x")


@pytest.mark.django_db
def test_one_setting_serves_ingest_attribution_and_retention(
        home: Path, chdb_url: str, monkeypatch: pytest.MonkeyPatch,
        as_role: Callable[[str], None], cli: Cli) -> None:
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", chdb_url)
    as_role("noc")
    code, out, err = cli("logs", "ingest", "--format", "radius-detail", "--json", str(V3))
    assert code == 0, err
    assert json.loads(out)["store"] == display_name(chdb_url)
    assert not (home / "logstore").exists()  # nothing went to the embedded default
    opened = default_store()
    assert isinstance(opened, ClickHouseLogStore)
    assert opened.name == display_name(chdb_url)
    stored = sum(info.rows for info in opened.partitions())
    assert stored >= 4  # four sessions, some cut at midnight

    code, out, err = cli("attribute", "198.51.100.23", "--at", "2024-03-04T10:30:00Z",
                         "--purpose", "troubleshooting", "--reference", "TKT-100042", "--json")
    assert code == 0, err
    answer = json.loads(out)
    # The sample's record of alice is flagged (its clocks disagree): named, never "match".
    assert (answer["status"], answer["reason"]) == (
        "ambiguous", "the interval is flagged clock-disagrees")
    assert [c["holder"]["username"] for c in answer["candidates"]] == ["alice@example.net"]

    as_role("custodian")
    code, _, err = cli("hold", "create", "--identifier", "alice@example.net", "--kind",
                       "username", "--from", "2024-03-04T00:00:00Z", "--to",
                       "2024-03-05T00:00:00Z", "--expires", "2099-01-01T00:00:00Z",
                       "--reference", "LR-2026-0042")
    assert code == 0, err
    as_role("admin")
    code, out, err = cli("retention", "run", "--dry-run", "--json")
    assert code == 0, err
    planned = json.loads(out)["days"]
    removed, kept = sum(d["removed"] for d in planned), sum(d["kept"] for d in planned)
    assert removed + kept == stored
    assert removed > 0
    assert kept > 0
    assert sum(info.rows for info in opened.partitions()) == stored  # a dry run changes nothing
    code, out, err = cli("retention", "run", "--json")
    assert code == 0, err
    done = json.loads(out)["days"]
    assert [(d["day"], d["removed"], d["kept"]) for d in done] == [
        (d["day"], d["removed"], d["kept"]) for d in planned]
    at = datetime(2024, 3, 4, 10, 30, tzinfo=UTC)
    assert [m.interval.username for m in opened.lookup("198.51.100.23", at)] == [
        "alice@example.net"]
    assert opened.lookup("203.0.113.7", at) == []
    assert sum(info.rows for info in opened.partitions()) == kept


@pytest.mark.django_db
def test_the_flag_overrides_the_variable(
        home: Path, chdb_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        as_role: Callable[[str], None], cli: Cli) -> None:
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", chdb_url)
    as_role("noc")
    code, out, err = cli("logs", "ingest", "--format", "radius-detail", "--store",
                         str(tmp_path / "flagged"), "--json", str(V3))
    assert code == 0, err
    assert json.loads(out)["store"] == str((tmp_path / "flagged").resolve())
    assert sum(i.rows for i in EmbeddedLogStore(tmp_path / "flagged").partitions()) >= 4
    assert open_store(chdb_url).partitions() == []
    as_role("admin")
    code, _, err = cli("retention", "run", "--dry-run", "--store", "clickhouse:///no-host")
    assert code == 2
    assert "not a ClickHouse URL" in err


@pytest.mark.django_db
def test_the_quality_tools_refuse_clickhouse_clearly(
        home: Path, chdb_url: str, monkeypatch: pytest.MonkeyPatch,
        as_role: Callable[[str], None], cli: Cli) -> None:
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", chdb_url)
    with pytest.raises(EmbeddedOnly, match="ClickHouse"):
        embedded_root(tool="the quality tools")
    assert embedded_root(home / "elsewhere") == home / "elsewhere"
    as_role("noc")
    code, _, err = cli("quality", "report", "--since", "2024-03-04T00:00:00Z", "--until",
                       "2024-03-05T00:00:00Z")
    assert code == 2
    assert "the quality tools: only an embedded log store's files can be read" in err
    assert display_name(chdb_url) in err
    assert "CPNIGUARD_LOGSTORE" in err
    code, _, err = cli("logs", "verify")
    assert code == 2
    assert "logs verify: only an embedded log store's files can be read" in err
    from cpniguard.legal.account_logs import embedded_root as legal_root

    assert legal_root(None) is None  # the legal desk says it has no logs by subscriber here


def test_an_unreachable_server_is_bad_usage_named_without_its_password(home: Path,
                                                                       cli: Cli) -> None:
    # Port 9 on loopback: nothing listens, so the connection is refused at once.
    code, _, err = cli("logs", "ingest", "--format", "radius-detail", "--store",
                       "clickhouse://noc:pw-secret@127.0.0.1:9/isp", str(V3))
    assert code == 2
    assert "log store clickhouse://noc@127.0.0.1:9/isp?table=intervals: " in err
    assert "pw-secret" not in err
