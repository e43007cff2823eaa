"""The desk runs the queries itself, only within scope: the targets named, the categories both
asked for and allowed for the kind (after narrowing), the dates named.

Every read goes through the access gate for the purpose `legal_process` under the request's
own case number (the custodian's grant), so each one is audited:

- a subscriber target (account, name, phone, email, address) is looked up exactly as given,
  never fuzzily: no record is "no records" and reveals nothing else; two records answering
  one name are `ambiguous` and neither is produced;
- an IP target goes through the attribution engine (`answer_batch`): `ambiguous`,
  `port_required` and `no_match` are reported as such and never resolved by guessing; only a
  `match` naming one linked subscriber yields records;
- the records of each answering subscriber are loaded for the categories in scope only (the
  others are never read), and flattened into rows that each carry their scope clause.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db.models import Q, Value
from django.db.models.functions import Concat

from cpniguard.access import Actor, access
from cpniguard.connectivity.answers import Ask, answer_batch
from cpniguard.connectivity.store import LogStore
from cpniguard.legal.account_logs import subscriber_logs
from cpniguard.legal.desk import answer_scope
from cpniguard.legal.models import LegalRequest, Target
from cpniguard.legal.scope import (
    NO_RECORDS,
    RECORDS,
    ProducedRow,
    Scope,
    ScopeTarget,
    TargetAnswer,
    zulu,
)
from cpniguard.policy import Action, Policy
from cpniguard.subscribers import catalog
from cpniguard.subscribers.models import Address, Email, Phone, Service, Subscriber
from cpniguard.subscribers.records import load_record

PURPOSE = "legal_process"
RECORD_RESOURCE = "subscriber:record"
# The categories a lookup must read to match a target of each kind.
LOOKUP_CATEGORIES = {"account": {"account"}, "name": {"name"}, "phone": {"phone", "services"},
                     "email": {"email"}, "address": {"service_address", "billing_address"}}


def scope_of(request: LegalRequest, policy: Policy) -> Scope:
    kind = policy.legal_process.get(request.kind)
    targets = tuple(ScopeTarget(t.position + 1, t.kind, t.value if t.readable else "",
                                t.instant) for t in request.targets.all())
    return Scope(request.reference, kind.label if kind else request.kind,
                 kind.statute if kind else "", tuple(answer_scope(request, policy)), targets,
                 request.date_from, request.date_to)


def _exact(kind: str, value: str) -> Q:
    text = " ".join(value.split())
    if kind == "account":
        return Q(account_number=text)
    if kind == "phone":
        return Q(pk__in=Phone.objects.filter(number=text).values("subscriber")) | Q(
            pk__in=Service.objects.filter(voip_number=text).values("subscriber"))
    if kind == "email":
        return Q(pk__in=Email.objects.filter(address__iexact=text).values("subscriber"))
    if kind == "name":
        return Q(full_name__iexact=text) | Q(business_name__iexact=text)
    # An address is its first line alone, or the whole of it as we write it:
    # "42 Orchard Hill Rd, Millbrook, VT 05660" (a second line, if any, after the first).
    places = Address.objects.filter(line1__iexact=text.split(",", 1)[0].strip())
    if "," not in text:
        return Q(pk__in=places.values("subscriber"))
    ids = [a.subscriber_id for a in places if _written(a).casefold() == text.casefold()]
    return Q(pk__in=ids)


def _written(address: Address) -> str:
    lines = ", ".join(p for p in (address.line1, address.line2, address.city) if p)
    return f"{lines}, {address.state} {address.postal_code}"


def find_subscribers(actor: Actor, reference: str, target: Target) -> list[int]:
    """Our records answering one subscriber target exactly as given (audited search)."""
    categories = LOOKUP_CATEGORIES[target.kind]
    with access(actor, Action.SEARCH, resource=RECORD_RESOURCE, purpose=PURPOSE,
                reference=reference, subject=f"legal_target:{reference}#{target.position + 1}",
                categories=categories) as permit:
        found = Subscriber.objects.annotate(
            full_name=Concat("first_name", Value(" "), "last_name")).filter(
            _exact(target.kind, target.value)).values_list("pk", flat=True).distinct()
        ids = sorted(found[:50])
        permit.about("subscribers:" + ",".join(str(i) for i in ids))
        permit.touched(f"query:{c}" for c in sorted(categories))
    return ids


def _subscriber_answer(actor: Actor, reference: str, target: Target) -> TargetAnswer:
    number = target.position + 1
    ids = find_subscribers(actor, reference, target)
    if not ids:
        return TargetAnswer(number, NO_RECORDS, "no records")
    if len(ids) > 1:
        return TargetAnswer(number, "ambiguous", f"{len(ids)} records answer this "
                            f"{target.kind} exactly; none is produced")
    return TargetAnswer(number, RECORDS, "", (ids[0],))


def _ip_answers(actor: Actor, scope: Scope, targets: list[Target], store: LogStore | None,
                ) -> tuple[dict[int, TargetAnswer], dict[int, dict[str, Any]]]:
    answers: dict[int, TargetAnswer] = {}
    asked: list[Target] = []
    for target in targets:
        number = target.position + 1
        if target.instant is None:
            answers[number] = TargetAnswer(number, "unreadable", "no instant with its zone")
        elif not scope.within(target.instant):
            answers[number] = TargetAnswer(number, "outside_range", "its instant is outside "
                                           "the date range the request names")
        else:
            asked.append(target)
    if not asked:
        return answers, {}
    results = answer_batch(actor, [Ask(t.value, t.instant.isoformat(), str(t.position + 1))
                                   for t in asked if t.instant is not None],
                           purpose=PURPOSE, reference=scope.reference, store=store)
    found: dict[int, dict[str, Any]] = {}
    for target, result in zip(asked, results, strict=True):
        number = target.position + 1
        person = result["subscriber"]
        if result["status"] == "match" and person is not None:
            answers[number] = TargetAnswer(number, RECORDS, "", (int(person["id"]),))
            found[number] = result
        elif result["status"] == "match":
            answers[number] = TargetAnswer(number, NO_RECORDS, "no records: no subscriber "
                                           "is linked to the holder at that instant")
        else:
            answers[number] = TargetAnswer(number, str(result["status"]), result["reason"])
    return answers, found


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key, item in value.items() for pair in
                _flatten(f"{prefix}.{key}" if prefix else str(key), item)]
    if isinstance(value, list):
        return [pair for index, item in enumerate(value, start=1)
                for pair in _flatten(f"{prefix}.{index}" if prefix else str(index), item)]
    return [(prefix, "" if value is None else str(value))]


def _log_rows(scope: Scope, number: int, subscriber: int,
              result: dict[str, Any]) -> list[ProducedRow]:
    """The session that answered an IP target: address, times, identity, evidence."""
    clause = scope.clause(number, "connectivity_logs")
    target = scope.target(number)
    at = zulu(target.instant) if target is not None and target.instant is not None else None
    chosen = [c for c in result["candidates"]
              if any((s["subscriber"] or {}).get("id") == subscriber for s in c["subscribers"])]
    pairs: list[tuple[str, str]] = []
    if result["translation"] is not None:
        pairs.append(("translated", f"{result['address']}:{result['port']} -> "
                                    f"{result['inside_address']}"))
    for candidate in chosen or result["candidates"][:1]:
        interval = candidate["interval"]
        ports = candidate["ports"]
        pairs += [("assigned_address", candidate["address"]
                   + (f" ports {ports[0]}-{ports[1]}" if ports else "")),
                  ("session_start", interval["start"] or ""),
                  ("session_end", interval["end"] or f"open (last seen "
                                                     f"{interval['last_seen'] or 'unknown'})"),
                  ("identity", " ".join(f"{k}={v}" for k, v in candidate["holder"].items())),
                  ("source", candidate["source"])]
        pairs += [("evidence", f"{e['file']}:{e['line']} sha256 {e['sha256']}")
                  for e in candidate["evidence"]]
    return [ProducedRow(number, subscriber, "connectivity_logs", field, value, at, clause)
            for field, value in pairs]


def _record_rows(actor: Actor, scope: Scope, number: int, subscriber: int,
                 categories: list[str]) -> list[ProducedRow]:
    with access(actor, Action.READ, resource=RECORD_RESOURCE, purpose=PURPOSE,
                reference=scope.reference, subject=f"subscriber:{subscriber}",
                categories=categories) as permit:
        granted = permit.decision.granted & frozenset(categories)
        view = load_record(subscriber, granted, tuple(categories)) or {}
        permit.touched(name for c in sorted(granted) for name in catalog.FIELDS[c])
    rows = []
    for category in categories:
        if category not in granted or view.get(category) is None:
            continue
        clause = scope.clause(number, category)
        rows += [ProducedRow(number, subscriber, category, field, value, None, clause)
                 for field, value in _flatten("", view[category])]
    return rows


def collect(actor: Actor, request: LegalRequest, policy: Policy,
            store: LogStore | None = None,
            ) -> tuple[Scope, list[TargetAnswer], list[ProducedRow]]:
    scope = scope_of(request, policy)
    targets = list(request.targets.all())
    answers: dict[int, TargetAnswer] = {}
    for target in targets:
        if not target.readable or not target.value:
            answers[target.position + 1] = TargetAnswer(target.position + 1, "unreadable",
                                                         "the target could not be read")
        elif target.kind in LOOKUP_CATEGORIES:
            answers[target.position + 1] = _subscriber_answer(actor, request.reference, target)
    ip_targets = [t for t in targets if t.kind == "ip" and t.readable and t.value]
    ip_answers, sessions = _ip_answers(actor, scope, ip_targets, store)
    answers.update(ip_answers)
    record_categories = [c for c in scope.categories if c in catalog.RECORD_CATEGORIES]
    rows: list[ProducedRow] = []
    for number in sorted(answers):
        answer = answers[number]
        if answer.status != RECORDS:
            continue
        [subscriber] = answer.subscribers
        if record_categories:
            rows += _record_rows(actor, scope, number, subscriber, record_categories)
        if "connectivity_logs" in scope.categories and number in sessions:
            rows += _log_rows(scope, number, subscriber, sessions[number])
        elif "connectivity_logs" in scope.categories:
            # A subscriber target: the addresses they had within the named dates.
            logs = subscriber_logs(actor, scope, number, subscriber, store)
            rows += logs.rows
            if logs.note:
                answers[number] = replace(answer, note=logs.note)
    return scope, [answers[n] for n in sorted(answers)], rows
