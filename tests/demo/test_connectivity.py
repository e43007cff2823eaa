"""The demo's logs go through the real parsers, and the questions it suggests answer right."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest

from cpniguard.access import Actor
from cpniguard.connectivity.answers import Ask, answer_one
from cpniguard.connectivity.models import IdentityLink, IngestedFile
from cpniguard.connectivity.store import EmbeddedLogStore
from cpniguard.demo.connectivity import seed_connectivity
from cpniguard.demo.samples import sample_questions
from cpniguard.demo.seed import seed_demo
from cpniguard.home import home
from cpniguard.subscribers.models import Service

pytestmark = pytest.mark.django_db
TODAY = date(2026, 3, 10)  # the logs span the US spring-forward night of 2026-03-08


def test_demo_logs_are_ingested_linked_and_answer(actor_for: Callable[[str], Actor]) -> None:
    seed_demo(120, 11, link_os_user=False, today=TODAY)
    result = seed_connectivity(TODAY, 11, subscribers=60, days=3)
    assert result.subscribers == 60
    assert result.quarantined == 0
    assert result.intervals > 100
    assert IngestedFile.objects.filter(status="complete").count() == result.files
    assert IdentityLink.objects.filter(kind="username").count() == 60
    statics = set(Service.objects.filter(kind="static_ip").values_list("static_ip", flat=True))
    assert statics, "the demo should have static business addresses to keep out of the pools"

    questions = [line.split(": ", 1)[1].strip() for line in
                 sample_questions(result.log_dir / "truth.csv")[1:]]
    assert len(questions) == 5
    statuses = []
    for command in questions:
        argv = shlex.split(command)
        answer = answer_one(actor_for("noc"), Ask(argv[2], argv[argv.index("--at") + 1]),
                            purpose="troubleshooting", reference="TKT-100201")
        statuses.append(answer["status"])
        if answer["status"] == "match":
            assert answer["subscriber"] is not None, command
            assert answer["subscriber"]["name"] is None  # masked for the NOC
    assert statuses == ["match", "match", "match", "match", "port_required"]
    # The same seed and days again: the files are recognised, nothing is added twice.
    again = seed_connectivity(TODAY, 11, subscribers=60, days=3)
    assert IngestedFile.objects.count() == result.files
    assert again.intervals == 0


def test_demo_logs_go_to_the_configured_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              actor_for: Callable[[str], Actor]) -> None:
    """CPNIGUARD_LOGSTORE names the store every command reads: the demo writes there too,
    so its sample questions answer, and the home's default store is left as it was."""
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("CPNIGUARD_LOGSTORE", str(elsewhere))
    seed_demo(40, 12, link_os_user=False, today=TODAY)
    default = EmbeddedLogStore(home() / "logstore")
    before = default.partitions()
    result = seed_connectivity(TODAY, 12, subscribers=20, days=1)
    assert result.intervals > 0
    assert EmbeddedLogStore(elsewhere).partitions()
    assert default.partitions() == before
    assert {f.store for f in IngestedFile.objects.all()} == {str(elsewhere.resolve())}
    first = sample_questions(result.log_dir / "truth.csv")[1].split(": ", 1)[1].strip()
    argv = shlex.split(first)
    answer = answer_one(actor_for("noc"), Ask(argv[2], argv[argv.index("--at") + 1]),
                        purpose="troubleshooting", reference="TKT-100202")
    assert answer["status"] == "match"
