"""`purge_day` in the embedded store: held rows survive, the rest go, and a crash at any step
is finished exactly by the next purge, never showing a kept row twice or losing one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cpniguard.connectivity.store import EmbeddedLogStore, LogStore, StoredInterval
from cpniguard.connectivity.store.purge import JOURNAL, STAGING, purge_day, recover
from tests.retention.conftest import content, row

DAY = datetime(2026, 3, 4, tzinfo=UTC)
STEPS = ("staged", "journalled", "old-hidden", "published")


class Crash(RuntimeError):
    pass


def crash_at(step: str) -> object:
    def hook(reached: str) -> None:
        if reached == step:
            raise Crash(step)

    return hook


def alice(row_: StoredInterval) -> bool:
    return row_.username == "alice"


def fill(store: EmbeddedLogStore) -> None:
    # One ingest call, one partition: alice and bob side by side, plus a second partition.
    store.add("radius-detail", [
        row("192.0.2.10/32", DAY + timedelta(hours=1), DAY + timedelta(hours=2),
            username="alice"),
        row("192.0.2.11/32", DAY + timedelta(hours=1), DAY + timedelta(hours=3), username="bob"),
        row("192.0.2.12/32", DAY + timedelta(hours=4), None, username="carol"),
    ])
    store.add("radius-detail", [
        row("192.0.2.20/32", DAY + timedelta(hours=5), DAY + timedelta(hours=6),
            username="dave"),
    ])


def test_the_embedded_store_implements_the_protocol(store: EmbeddedLogStore) -> None:
    assert isinstance(store, LogStore)


def test_held_row_survives_beside_unheld_rows_in_its_partition(
        store: EmbeddedLogStore) -> None:
    fill(store)
    assert store.purge_day("radius-detail", DAY.date(), alice) == (3, 1)
    assert content(store) == [("2026-03-04", "alice")]
    [info] = store.partitions()
    assert info.part == 3  # a new part: the old one, with bob and carol in it, is gone
    files = sorted(p.name for p in info.manifest.parent.iterdir())
    assert all(name.startswith("part-000003.") for name in files), files
    assert store.lookup("192.0.2.10", DAY + timedelta(hours=1, minutes=5))
    assert not store.lookup("192.0.2.11", DAY + timedelta(hours=1, minutes=5))


def test_nothing_held_drops_the_day_and_its_directory(store: EmbeddedLogStore) -> None:
    fill(store)
    assert store.purge_day("radius-detail", "2026-03-04", lambda r: False) == (4, 0)
    assert store.partitions() == []
    assert not (store.root / "radius-detail" / "2026-03-04").exists()


def test_everything_held_leaves_the_partitions_untouched(store: EmbeddedLogStore) -> None:
    fill(store)
    before = [(p.part, p.manifest.read_bytes()) for p in store.partitions()]
    assert store.purge_day("radius-detail", DAY.date(), lambda r: True) == (0, 4)
    assert [(p.part, p.manifest.read_bytes()) for p in store.partitions()] == before


def test_other_days_and_sources_are_untouched(store: EmbeddedLogStore) -> None:
    fill(store)
    store.add("radius-detail", [row("192.0.2.10/32", DAY + timedelta(days=1, hours=1),
                                    DAY + timedelta(days=1, hours=2), username="erin")])
    store.add("kea-lease4", [row("192.0.2.30/32", DAY + timedelta(hours=1),
                                 DAY + timedelta(hours=2), username="", mac="02:00:5e:00:00:01",
                                 source="kea-lease4")])
    store.purge_day("radius-detail", DAY.date(), lambda r: False)
    assert content(store) == [("2026-03-04", "192.0.2.30/32"), ("2026-03-05", "erin")]


def test_bad_day_or_source_is_refused(store: EmbeddedLogStore) -> None:
    with pytest.raises(ValueError, match="source"):
        store.purge_day("../etc", DAY.date(), alice)
    with pytest.raises(ValueError, match="isoformat"):
        store.purge_day("radius-detail", "../2026-03-04", alice)


@pytest.mark.parametrize("step", STEPS)
def test_crash_at_each_step_then_rerun_is_exact(store: EmbeddedLogStore, step: str) -> None:
    fill(store)
    with pytest.raises(Crash):
        purge_day(store.root, "radius-detail", DAY.date(), alice, crash=crash_at(step))
    # Whatever the step: no row is visible twice.
    visible = content(store)
    assert len(visible) == len(set(visible)), visible
    # The next purge finishes the interrupted one first, then gives the exact result: past
    # the commit point only dave's partition (not reached before the crash) is left to drop.
    assert store.purge_day("radius-detail", DAY.date(), alice) == (
        (1, 1) if step != "staged" else (3, 1))
    assert content(store) == [("2026-03-04", "alice")]
    directory = store.root / "radius-detail" / "2026-03-04"
    assert not (directory / JOURNAL).exists()
    assert {p.name.split(".")[0] for p in directory.iterdir()} == {
        f"part-{store.partitions()[0].part:06d}"}


def test_crash_after_commit_point_is_rolled_forward_by_recover(
        store: EmbeddedLogStore) -> None:
    fill(store)
    with pytest.raises(Crash):
        purge_day(store.root, "radius-detail", DAY.date(), alice, crash=crash_at("old-hidden"))
    # The held row is invisible only until recovery, which does not need to know the day.
    assert ("2026-03-04", "alice") not in content(store)
    assert recover(store.root) == 1
    # Recovery finishes the swap only; dave's partition waits for the next purge of the day.
    assert content(store) == [("2026-03-04", "alice"), ("2026-03-04", "dave")]
    assert not (store.root / STAGING).exists()


def test_crash_while_dropping_leaves_no_orphan_after_rerun(store: EmbeddedLogStore) -> None:
    fill(store)
    with pytest.raises(Crash):
        purge_day(store.root, "radius-detail", DAY.date(), lambda r: False,
                  crash=crash_at("dropping"))
    directory = store.root / "radius-detail" / "2026-03-04"
    assert any(p.name.startswith("part-000001.") for p in directory.iterdir())  # invisible
    assert store.purge_day("radius-detail", DAY.date(), lambda r: False) == (1, 0)
    assert not directory.exists()  # the orphaned files of the first part went too


def test_missing_store_is_nothing_to_do(tmp_path: Path) -> None:
    assert EmbeddedLogStore(tmp_path / "none").purge_day("radius-detail", DAY.date(),
                                                         alice) == (0, 0)
