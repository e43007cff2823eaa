"""Crash safety with a real process: `cpniguard logs ingest` killed with SIGKILL at moments
spread over its run, then run again, must leave exactly what one clean run leaves.

The monkeypatched crashes in test_ingest.py hit chosen points deterministically; this test
hits the points nobody chose, including the middle of a Parquet write or an fsync.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from cpniguard.connectivity.generator import generate
from cpniguard.connectivity.store import EmbeddedLogStore

CLI = "import sys; from cpniguard.cli import main; sys.exit(main(sys.argv[1:]))"
KILL_POINTS = (0.2, 0.45, 0.7, 0.9)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["CPNIGUARD_HOME"] = str(home)  # its own SQLite database and log store
    return env


def _cli(home: Path, *argv: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", CLI, *argv], env=_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _finish(process: subprocess.Popen[bytes]) -> str:
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err.decode()
    return out.decode()


def _ingest(home: Path, log: Path) -> subprocess.Popen[bytes]:
    return _cli(home, "logs", "ingest", "--format", "radius-detail", "--source-tz",
                "America/Chicago", "--json", str(log))


def _rows(home: Path) -> list[Any]:
    """Every stored row of every visible partition, in a canonical order."""
    store = EmbeddedLogStore(home / "logstore")
    rows: list[Any] = []
    for info in store.partitions():
        rows.extend(store._index(info.manifest).read_rows(list(range(info.rows))).values())
    return sorted(rows, key=repr)


def _bookkeeping(home: Path) -> tuple[list[Any], int]:
    with sqlite3.connect(home / "cpniguard.sqlite3") as db:
        files = db.execute("SELECT sha256, format, status, lines, events, intervals, "
                           "quarantined FROM connectivity_ingestedfile ORDER BY id").fetchall()
        quarantined = db.execute("SELECT count(*) FROM connectivity_quarantinedline").fetchone()
    return files, quarantined[0]


@pytest.fixture(scope="module")
def log_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    done = generate(out, subscribers=300, days=2, start=date(2024, 3, 9), cgnat_ratio=0.0,
                    seed=7, zone="America/Chicago")
    details = [(size, out / name) for name, _lines, size in done.files if "/detail-" in name]
    return max(details)[1]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated home, copied for each run: migrating five times would dominate the test."""
    home = tmp_path_factory.mktemp("template")
    _finish(_cli(home, "migrate"))
    return home


def _migrated(template: Path, home: Path) -> Path:
    shutil.copytree(template, home)
    return home


def test_sigkill_at_any_moment_then_rerun_is_exact(tmp_path: Path, log_file: Path,
                                                   template: Path) -> None:
    clean = _migrated(template, tmp_path / "clean")
    started = time.monotonic()
    report = json.loads(_finish(_ingest(clean, log_file)))
    duration = time.monotonic() - started
    assert report["files"][0]["intervals"] > 100
    expected_rows, expected_books = _rows(clean), _bookkeeping(clean)

    interrupted = 0
    for point in KILL_POINTS:
        delay = duration * point
        # A run may go faster than the reference did (the machine got quieter); then it
        # finished before the kill, and the point is tried again a little earlier.
        for attempt in range(6):
            home = _migrated(template, tmp_path / f"killed-{point}-{attempt}")
            process = _ingest(home, log_file)
            time.sleep(delay)
            killed = process.poll() is None
            if killed:
                process.send_signal(signal.SIGKILL)
                interrupted += 1
            process.communicate(timeout=60)
            if killed:
                break
            delay *= 0.6
        # Whatever the kill left behind, one more run makes it exact.
        _finish(_ingest(home, log_file))
        assert _rows(home) == expected_rows, f"rows differ after a kill at {point:.0%}"
        assert _bookkeeping(home) == expected_books
    # And a third run adds nothing: the file is recognised as already in.
    again = json.loads(_finish(_ingest(home, log_file)))
    assert again["files"][0]["already_ingested"] is True
    assert _rows(home) == expected_rows
    assert interrupted == len(KILL_POINTS), "an ingest finished before its kill every time"
