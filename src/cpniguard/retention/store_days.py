"""What retention needs of a log store beyond the `LogStore` protocol, for either backend.

The embedded store journals a day's rewrite on local disk, so a run first rolls forward any
rewrite a crash interrupted, and it surveys a day by reading its partition files. ClickHouse
has neither need of the first (its purge is one synchronous mutation: applied or not) and
surveys a day with one query; both answer the planner the same (removed, kept) counts.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from cpniguard.connectivity.store import EmbeddedLogStore, LogStore, StoredInterval


def finish_interrupted(store: LogStore) -> int:
    """Roll forward purges a crash interrupted; returns how many days it repaired."""
    if isinstance(store, EmbeddedLogStore):
        from cpniguard.connectivity.store.purge import recover

        return recover(store.root)
    return 0


def survey_rows(store: LogStore, source: str, day: date,
                keep: Callable[[StoredInterval], bool]) -> tuple[int, int]:
    """(rows `purge_day` would remove, rows it would keep), changing nothing."""
    if isinstance(store, EmbeddedLogStore):
        from cpniguard.connectivity.store.purge import survey_day

        found = survey_day(store.root, source, day, keep)
        return found.removed, found.kept
    survey = getattr(store, "survey_day", None)
    if survey is None:
        raise TypeError(f"{type(store).__name__} cannot survey a day for retention")
    removed, kept = survey(source, day, keep)
    return int(removed), int(kept)
