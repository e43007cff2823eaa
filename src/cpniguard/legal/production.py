"""Scoped production and delivery: the only ways to `producing`, `produced` and `delivered`.

    produce(actor, "LR-2026-0001")   # approved -> producing -> produced (sealed package)
    deliver(actor, "LR-2026-0001", to="SA Sam Example, OIG", how="encrypted email")

Production is for an approved request whose kind discloses something. It moves the request
to `producing` (a workflow step, audited), runs the queries within scope (`queries.collect`,
each read audited under `legal_process` and the case number), checks the result with the
scope checker, writes the package, checks it again from the written files, and seals it in
one transaction with the move to `produced` and the audit entry of the export (which names
the manifest's SHA-256). Anything outside scope refuses the release, naming what, is audited
as refused, and leaves the request `producing` with nothing sealed.

Delivery re-hashes the sealed files against the manifest, records to whom and how, writes
the disclosure log, and moves the request to `delivered`, in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from cpniguard.access import Actor, access, record_event
from cpniguard.access.gate import event_name
from cpniguard.audit.models import Outcome
from cpniguard.connectivity.store import LogStore
from cpniguard.legal import disclosures, letters, notices, package
from cpniguard.legal.desk import answer_scope, outcomes, person_of, subject_of
from cpniguard.legal.models import LegalRequest, Production
from cpniguard.legal.queries import collect
from cpniguard.legal.scope import ProducedRow, Scope, TargetAnswer, violations
from cpniguard.legal.status import BadTransition, Status
from cpniguard.legal.workflow import _move, _step
from cpniguard.policy import Action, Policy, current_policy

PACKAGE_RESOURCE = "legal:package"


class ScopeViolation(BadTransition):
    """The package holds something the request does not admit: release refused."""


def _addressee(request: LegalRequest, policy: Policy) -> letters.Addressee:
    kind = policy.legal_process.get(request.kind)
    return letters.Addressee(request.reference, request.case_number,
                             request.issuing_authority, request.agent_name,
                             request.agent_contact, kind.label if kind else request.kind,
                             kind.statute if kind else "")


def _refuse_release(actor: Actor, reference: str, problems: list[str]) -> None:
    shown = problems[:10] + ([f"and {len(problems) - 10} more"] if len(problems) > 10 else [])
    reason = "release refused, outside the request's scope: " + "; ".join(shown)
    record_event(actor, event_name(PACKAGE_RESOURCE, Action.EXPORT), Outcome.REFUSED,
                 subject=f"legal_package:{reference}", reason=reason[:500])
    raise ScopeViolation(reason)


def build_files(request: LegalRequest, policy: Policy, actor: Actor, scope: Scope,
                answers: list[TargetAnswer], rows: list[ProducedRow]) -> dict[str, bytes]:
    now = timezone.now()
    data = {"data.csv": package.data_csv(rows), "data.json": package.data_json(scope, answers,
                                                                                rows)}
    hashes = {name: package.sha256(content) for name, content in data.items()}
    to = _addressee(request, policy)
    not_answered = [c for c in request.categories if c not in scope.categories]
    cover = letters.cover_letter(policy, to, scope, answers, len(rows), not_answered, hashes,
                                 now)
    certificate = letters.certification(policy, to, person_of(actor), len(rows), hashes, now)
    return {**data, "cover-letter.pdf": cover, "certification.pdf": certificate}


def produce(actor: Actor, reference: str, *, store: LogStore | None = None,
            now: datetime | None = None) -> dict[str, Any]:
    policy = current_policy()
    moment = now or timezone.now()  # the customer-notice wait is measured at this instant

    def precheck(request: LegalRequest) -> str | None:
        if Status(request.status) not in (Status.APPROVED, Status.PRODUCING):
            return (f"only an approved request is produced; {request.reference} is "
                    f"{request.status}")
        kind = policy.legal_process.get(request.kind)
        if kind is None or not kind.discloses:
            return f"{request.reference} is a kind of process that discloses nothing"
        if not answer_scope(request, policy):
            return f"nothing asked by {request.reference} is within what it may compel"
        return notices.wait_reason(request, policy, moment)

    def start(request: LegalRequest) -> None:
        if request.status == Status.APPROVED.value:
            _move(request, actor, Status.PRODUCING, "production started")

    _step(actor, Action.CHANGE, reference, precheck, start, ("legal_request.status",))
    request = LegalRequest.objects.get(reference=reference)
    scope, answers, rows = collect(actor, request, policy, store)
    notices.check_notified(actor, request, policy, answers, moment)
    problems = violations(scope, answers, rows)
    if problems:
        _refuse_release(actor, reference, problems)
    staged = package.stage(reference, build_files(request, policy, actor, scope, answers,
                                                  rows), timezone.now())
    problems = package.check_files(staged) + package.check_contents(staged, scope)
    if problems:
        package.discard(staged)
        _refuse_release(actor, reference, problems)
    return _seal(actor, request, scope, answers, rows, staged)


def _seal(actor: Actor, request: LegalRequest, scope: Scope, answers: list[TargetAnswer],
          rows: list[ProducedRow], staged: package.Package) -> dict[str, Any]:
    reference = request.reference
    categories = sorted({r.category for r in rows})
    with access(actor, Action.EXPORT, resource=PACKAGE_RESOURCE, purpose="legal_process",
                reference=reference, subject=f"legal_package:{reference}",
                categories=scope.categories) as permit:
        locked = LegalRequest.objects.select_for_update().get(pk=request.pk)
        if locked.status != Status.PRODUCING.value:
            package.discard(staged)
            raise BadTransition(f"{reference} became {locked.status} during production")
        now = timezone.now()
        sealed = package.seal(staged, reference, now)
        subscribers = sorted({r.subscriber for r in rows})
        Production.objects.update_or_create(request=locked, defaults={
            "produced_by": person_of(actor), "started": now, "sealed": now,
            "directory": str(sealed.directory), "files": sealed.files,
            "manifest_sha256": sealed.manifest_sha256, "rows": len(rows),
            "answers": [a.to_dict() for a in answers], "subscribers": subscribers,
            "categories": categories})
        _move(locked, actor, Status.PRODUCED,
              f"package sealed: {len(rows)} rows for {len(subscribers)} subscriber(s); "
              f"manifest sha256 {sealed.manifest_sha256}")
        notices.opened_by_production(locked, current_policy(), answers, person_of(actor), now)
        permit.about(f"legal_package:{reference} manifest-sha256={sealed.manifest_sha256}")
        permit.touched([f"package.{name}" for name in sorted(sealed.files)]
                       + [f"{c}.*" for c in categories])
    return production_view(locked)


def production_view(request: LegalRequest) -> dict[str, Any]:
    return {"reference": request.reference, "status": request.status,
            "production": outcomes(request)["production"]}


def sealed_package(production: Production) -> package.Package:
    return package.Package(Path(production.directory), dict(production.files),
                           production.manifest_sha256)


def deliver(actor: Actor, reference: str, *, to: str, how: str, note: str = ""
            ) -> dict[str, Any]:
    to, how = " ".join(to.split()), " ".join(how.split())

    def precheck(request: LegalRequest) -> str | None:
        if request.status != Status.PRODUCED.value:
            return f"only a produced request is delivered; {request.reference} is " \
                   f"{request.status}"
        if not to or not how:
            return "a delivery records to whom (--to) and how (--how) it was delivered"
        production = Production.objects.filter(request=request, sealed__isnull=False).first()
        if production is None:
            return f"{request.reference} has no sealed package"
        problems = package.check_files(sealed_package(production))
        if problems:
            return "the sealed package no longer matches its manifest: " + "; ".join(problems)
        return None

    def work(request: LegalRequest) -> None:
        now = timezone.now()
        production = Production.objects.select_for_update().get(request=request)
        production.delivered, production.delivered_by = now, person_of(actor)
        production.delivered_to, production.delivered_how = to[:1000], how[:1000]
        production.save()
        _move(request, actor, Status.DELIVERED,
              f"delivered to {to} by {how}. {note.strip()}".strip())
        disclosures.record_delivery(request, production, actor, now)
        record_event(actor, event_name(PACKAGE_RESOURCE, "deliver"), Outcome.ALLOWED,
                     subject=subject_of(reference),
                     reason=f"manifest sha256 {production.manifest_sha256} delivered to "
                            f"{to} by {how}"[:500])

    _step(actor, Action.CHANGE, reference, precheck, work,
          ("legal_request.status", "legal_request.delivery"))
    return production_view(LegalRequest.objects.get(reference=reference))
