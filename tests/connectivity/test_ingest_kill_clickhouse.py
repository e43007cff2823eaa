"""Crash safety on chDB with a real process: `cpniguard logs ingest --store chdb:///...` killed
with SIGKILL while it writes, then run again, leaves exactly what one clean run leaves.

chDB is the engine inside the ingest process, so a SIGKILL kills the engine mid-insert too;
its data directory is reopened by the next process as a server's would be after a crash.
The kill is aimed at the write, which is a small part of the run: once the ingest record names
the store (the last step before the first insert), the process is killed as soon as the
engine's data directory holds N more data parts (or parts being written) than it did then,
for N from 0 up: so the kills land before, between and inside the inserts, not in parsing.
Every store read happens in a subprocess: this test process may hold another chDB data
directory (one per process).
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.connectivity.test_ingest_kill import (  # noqa: F401 - fixtures used by name
    _bookkeeping,
    _cli,
    _finish,
    _migrated,
    log_file,
    template,
)

NEW_PARTS = (0, 1, 2, 3)  # two days: four inserts (prefix lengths, rows) in two tables
DUMP = """
import json, sys
from cpniguard.connectivity.store import open_store
store = open_store(sys.argv[1])
rows = store.executor.query(
    "SELECT * EXCEPT (part) FROM cpniguard.intervals ORDER BY source, day, part, row").to_pylist()
print(json.dumps({"rows": [repr(r) for r in rows],
                  "parts": [[p.source, p.day, p.rows] for p in store.partitions()]}))
"""


def _ingest(home: Path, log: Path) -> subprocess.Popen[bytes]:
    return _cli(home, "logs", "ingest", "--format", "radius-detail", "--source-tz",
                "America/Chicago", "--store", f"chdb://{home / 'chdb'}", "--json", str(log))


def _content(home: Path) -> dict[str, Any]:
    """Every stored row (without its part number) in store order, and the parts' sizes."""
    done = subprocess.run([sys.executable, "-c", DUMP, f"chdb://{home / 'chdb'}"],
                          capture_output=True, timeout=300, check=True)
    return dict(json.loads(done.stdout))


def _writing(home: Path) -> bool:
    """True once the ingest record names its store: the inserts come next."""
    try:
        with sqlite3.connect(home / "cpniguard.sqlite3", timeout=0.05) as db:
            found = db.execute("SELECT count(*) FROM connectivity_ingestedfile "
                               "WHERE store != '' AND status = 'started'").fetchone()
    except sqlite3.OperationalError:  # locked by the writer for a moment
        return False
    return bool(found[0])


def _parts_on_disk(home: Path) -> int:
    """Data parts of every table, finished or being inserted (tmp_insert_...)."""
    try:
        return sum(1 for part in (home / "chdb" / "store").glob("*/*/*_*")
                   if not part.name.startswith("detached"))
    except OSError:  # a directory renamed while listed
        return -1


def _wait(process: subprocess.Popen[bytes], ready: Any, deadline: float) -> None:
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.001)


def test_sigkill_during_the_chdb_write_then_rerun_is_exact(
        tmp_path: Path, log_file: Path, template: Path) -> None:  # noqa: F811
    clean = _migrated(template, tmp_path / "clean")
    report = json.loads(_finish(_ingest(clean, log_file)))
    assert report["store"].startswith("chdb:///")
    expected, expected_books = _content(clean), _bookkeeping(clean)
    assert len(expected["parts"]) >= 2  # several days: several inserts to land between

    torn = 0  # kills that left some rows of the unfinished attempt in the store
    seen: list[tuple[float, int]] = []
    for new in NEW_PARTS:
        home = _migrated(template, tmp_path / f"killed-{new}")
        process = _ingest(home, log_file)
        deadline = time.monotonic() + 120
        _wait(process, lambda: _writing(home), deadline)  # noqa: B023 - called at once
        before = _parts_on_disk(home)
        _wait(process, lambda: _parts_on_disk(home) >= before + new, deadline)  # noqa: B023
        killed = process.poll() is None
        if killed:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=60)
        if killed and _bookkeeping(home)[0][0][2] == "started":
            left = len(_content(home)["rows"])
            seen.append((new, left))
            torn += left > 0  # rows of an unfinished attempt: the re-run must drop them
        _finish(_ingest(home, log_file))
        assert _content(home) == expected, f"rows differ after a kill at {new} new parts"
        assert _bookkeeping(home) == expected_books
    again = json.loads(_finish(_ingest(home, log_file)))
    assert again["files"][0]["already_ingested"] is True
    assert _content(home) == expected
    assert torn, f"no kill landed while the attempt's rows were in the store: {seen}"
