"""Attribution as staff ask it: through the access gate, with the linked subscriber masked
per purpose. The CLI, the API and the web page call only `answer_one` and `answer_batch`, so
the same actor gets the same answer, and the same refusal, everywhere.

The gate is asked for the connectivity logs (required: an attribution without them is
nothing) and for the subscriber's account, name and service address, each of which the policy
may mask. Nothing about a subscriber is read before the decision.

Linking can only lower certainty: a holder whose identities (or a static assignment) point
at two subscribers at that instant makes the answer `ambiguous`; an address no log holds but
a static assignment covers is a `match` on the service records, and says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cpniguard.access import Actor
from cpniguard.access.gate import access
from cpniguard.connectivity.attribution import Answer, Status, attribute_many
from cpniguard.connectivity.continuity import ContinuationBook
from cpniguard.connectivity.links import HOLDER_KINDS, LinkBook, LinkHit
from cpniguard.connectivity.network import BadNetworkConfig, cgnat_pools, cgnat_test
from cpniguard.connectivity.question import Usage, parse_instant, parse_target
from cpniguard.connectivity.store import LogStore
from cpniguard.connectivity.store.schema import Address
from cpniguard.policy import Action
from cpniguard.subscribers.catalog import SUMMARY_FIELDS, summary
from cpniguard.subscribers.models import Subscriber

DEFAULT_SKEW = 2.0
MAX_BATCH_ROWS = 100_000  # one audit entry covers a batch; bigger requests are split
MAX_SKEW = 3600.0
SUBSCRIBER_CATEGORIES = ("account", "name", "service_address")
CATEGORIES = frozenset({"connectivity_logs", *SUBSCRIBER_CATEGORIES})
FIELDS = ("address", "port", "instant", "status", "holder", "interval", "evidence")


@dataclass(frozen=True, slots=True)
class Ask:
    """One question as typed: `192.0.2.10:443` at `2017-03-29T14:05:03-07:00`."""

    target: str
    at: str
    label: str = ""  # the caller's own row id, echoed back in batch answers


@dataclass(frozen=True, slots=True)
class Parsed:
    address: str
    port: int | None
    at: datetime


def parse_ask(ask: Ask) -> Parsed:
    address, port = parse_target(ask.target.strip())
    return Parsed(address, port, parse_instant(ask.at))


def check_skew(seconds: float) -> timedelta:
    if not 0 <= seconds <= MAX_SKEW:
        raise Usage(f"skew must be between 0 and {MAX_SKEW:g} seconds, not {seconds:g}")
    return timedelta(seconds=seconds)


def _cgnat() -> Callable[[Address], bool] | None:
    try:
        return cgnat_test(cgnat_pools())
    except BadNetworkConfig as error:
        raise Usage(f"the network configuration is invalid: {error}") from None


def default_store() -> LogStore:
    """The configured log store (`store_config`): the one ingest and retention use too."""
    from cpniguard.connectivity.store_config import configured_store

    return configured_store()


def answer_one(actor: Actor, ask: Ask, *, purpose: str, reference: str | None,
               skew_seconds: float = DEFAULT_SKEW, store: LogStore | None = None,
               ) -> dict[str, Any]:
    """Raises Usage for bad input (before any decision) and AccessRefused (audited)."""
    parsed, skew, shared = parse_ask(ask), check_skew(skew_seconds), _cgnat()
    with access(actor, Action.READ, resource="connectivity:attribution", purpose=purpose,
                reference=reference, subject="attribution", categories=CATEGORIES,
                required={"connectivity_logs"}) as permit:
        [answer] = attribute_many(store or default_store(),
                                  [(parsed.address, parsed.at, parsed.port)], skew=skew,
                                  cgnat_public=shared, continuations=ContinuationBook)
        [result] = _linked([answer], permit.decision.granted)
        named = result["subscriber"]
        permit.about(f"attribution:{result['status']}"
                     + (f" subscriber:{named['id']}" if named else ""))
        permit.touched(_fields(permit.decision.granted, [result]))
    return result


def answer_batch(actor: Actor, asks: Sequence[Ask], *, purpose: str, reference: str | None,
                 skew_seconds: float = DEFAULT_SKEW, store: LogStore | None = None,
                 ) -> list[dict[str, Any]]:
    """Every row is validated first: one bad row refuses the batch, naming each bad row.

    One decision and one audit entry cover the batch; the entry carries the row count, the
    status counts, the SHA-256 of the questions and of the answers, so the exact exchange
    can be proven later from a kept copy of either file.
    """
    if len(asks) > MAX_BATCH_ROWS:
        raise Usage(f"at most {MAX_BATCH_ROWS:,} rows per batch (got {len(asks):,}); split it")
    skew, shared = check_skew(skew_seconds), _cgnat()
    parsed, errors = [], []
    for number, ask in enumerate(asks, start=1):
        try:
            parsed.append(parse_ask(ask))
        except Usage as error:
            errors.append(f"row {number}{f' ({ask.label})' if ask.label else ''}: {error}")
    if errors:
        raise Usage("; ".join(errors[:20]) + (f"; and {len(errors) - 20} more"
                                               if len(errors) > 20 else ""))
    if not parsed:
        raise Usage("the batch has no rows")
    with access(actor, Action.READ, resource="connectivity:attribution-batch",
                purpose=purpose, reference=reference, subject="attribution-batch",
                categories=CATEGORIES, required={"connectivity_logs"}) as permit:
        answers = attribute_many(store or default_store(),
                                 [(p.address, p.at, p.port) for p in parsed], skew=skew,
                                 cgnat_public=shared, continuations=ContinuationBook)
        results = _linked(answers, permit.decision.granted)
        for ask, result in zip(asks, results, strict=True):
            result["label"] = ask.label
        permit.about(_batch_subject(asks, results))
        permit.touched(_fields(permit.decision.granted, results))
    return results


def digest(rows: Sequence[Any]) -> str:
    hasher = hashlib.sha256()
    for row in rows:
        hasher.update(repr(row).encode())
    return hasher.hexdigest()


def _batch_subject(asks: Sequence[Ask], results: list[dict[str, Any]]) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    tally = " ".join(f"{status}={counts[status]}" for status in sorted(counts))
    return (f"attribution-batch rows={len(results)} {tally} "
            f"questions-sha256={digest([(a.label, a.target, a.at) for a in asks])} "
            f"answers-sha256={digest(results)}")


def _fields(granted: frozenset[str], results: list[dict[str, Any]]) -> list[str]:
    shown = any(c["subscribers"] for r in results for c in r["candidates"]) or any(
        r["static_assignments"] for r in results)
    return list(FIELDS) + ([SUMMARY_FIELDS[c] for c in SUBSCRIBER_CATEGORIES if c in granted]
                           if shown else [])


def _linked(answers: list[Answer], granted: frozenset[str]) -> list[dict[str, Any]]:
    book = LinkBook((field, getattr(candidate.holder, field))
                    for answer in answers for candidate in answer.candidates
                    for field in HOLDER_KINDS)
    hits = [_hits_of(answer, book) for answer in answers]
    ids = {hit.subscriber_id for per_answer in hits for group in per_answer for hit in group}
    people = {s.pk: summary(s, granted) for s in
              Subscriber.objects.filter(pk__in=ids).prefetch_related("addresses")}
    return [_result(answer, groups, people) for answer, groups in zip(answers, hits,
                                                                      strict=True)]


def _hits_of(answer: Answer, book: LinkBook) -> list[list[LinkHit]]:
    """Link hits per candidate, then (last) the static assignments of the address."""
    groups = [[hit for field in HOLDER_KINDS
               for hit in book.identity(field, getattr(candidate.holder, field), answer.at)]
              for candidate in answer.candidates]
    if answer.status is Status.PORT_REQUIRED:
        return [*groups, []]  # a shared address names nobody, not even through the records
    return [*groups, book.static(answer.inside_address or answer.address, answer.at)]


def _link_dict(hit: LinkHit, people: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {"subscriber": people.get(hit.subscriber_id), "kind": hit.kind,
            "link_id": hit.link_id, "origin": hit.origin,
            "valid_from": hit.valid_from.isoformat(),
            "valid_to": hit.valid_to.isoformat() if hit.valid_to else None}


def _result(answer: Answer, groups: list[list[LinkHit]],
            people: dict[int, dict[str, Any]]) -> dict[str, Any]:
    data = answer.to_dict()
    *per_candidate, statics = groups
    for candidate, hits in zip(data["candidates"], per_candidate, strict=True):
        candidate["subscribers"] = [_link_dict(hit, people) for hit in hits]
    data["static_assignments"] = [_link_dict(hit, people) for hit in statics]
    status, reason = answer.status, answer.reason
    named = {hit.subscriber_id for hits in groups for hit in hits}
    if status is Status.MATCH and len(named) > 1:
        status = Status.AMBIGUOUS
        reason = (f"{reason}; but its identities and static assignments link to "
                  f"{len(named)} subscribers at that instant")
    elif status is Status.MATCH and not named:
        reason = f"{reason}; no subscriber is linked to this identity at that instant"
    elif status is Status.NO_MATCH and statics:
        static_ids = {hit.subscriber_id for hit in statics}
        status = Status.MATCH if len(static_ids) == 1 else Status.AMBIGUOUS
        reason = ("no log interval holds the address; the service records assign it "
                  + ("statically to one subscriber" if len(static_ids) == 1
                     else f"to {len(static_ids)} subscribers"))
    data["status"], data["reason"] = str(status), reason
    data["subscriber"] = people.get(next(iter(named))) if (
        status is Status.MATCH and len(named) == 1) else None
    return data
