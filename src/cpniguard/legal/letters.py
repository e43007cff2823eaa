"""The desk's letters as PDF: the cover letter and the business-records certification that go
in a package, and the rejection and partial-compliance letters that state the reasons.

Each letter is built from plain data (the request, the policy's organization and rules, the
findings) by ReportLab and written with `invariant=1`, so the same inputs give the same
bytes: a letter's SHA-256 in a manifest can be re-derived. Text from a request is escaped
before it reaches ReportLab's paragraph markup.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.sax.saxutils import escape

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table

from cpniguard.access import Actor
from cpniguard.legal.scope import Scope, TargetAnswer, zulu
from cpniguard.policy import Policy

_STYLES = getSampleStyleSheet()


@dataclass(frozen=True, slots=True)
class Addressee:
    """Who a letter answers: the request's own words, never anything of a customer."""

    reference: str
    case_number: str
    authority: str
    agent: str
    contact: str
    kind_label: str
    statute: str


def _text(value: str) -> str:
    return escape(value or "-")


def _pdf(title: str, story: list[Flowable]) -> bytes:
    out = io.BytesIO()
    document = SimpleDocTemplate(out, pagesize=LETTER, title=title, creator="cpniguard",
                                 invariant=1, pageCompression=0, leftMargin=inch,
                                 rightMargin=inch)
    document.build(story)
    return out.getvalue()


def _head(policy: Policy, to: Addressee, subject: str, when: datetime) -> list[Flowable]:
    org = policy.organization
    return [
        Paragraph(_text(org.legal_name), _STYLES["Title"]),
        Paragraph(f"{_text(org.privacy_contact)} - {_text(org.phone)}", _STYLES["Normal"]),
        Spacer(1, 12),
        Paragraph(f"Date: {when.date().isoformat()}", _STYLES["Normal"]),
        Paragraph(f"To: {_text(to.agent)}, {_text(to.authority)} ({_text(to.contact)})",
                  _STYLES["Normal"]),
        Paragraph(f"Re: {_text(to.kind_label)} ({_text(to.statute)}), your case "
                  f"{_text(to.case_number)}; our reference {_text(to.reference)}",
                  _STYLES["Normal"]),
        Spacer(1, 12),
        Paragraph(_text(subject), _STYLES["Heading2"]),
    ]


def _paragraphs(texts: Iterable[str]) -> list[Flowable]:
    return [Paragraph(_text(t), _STYLES["BodyText"]) for t in texts]


def _targets(scope: Scope, answers: Sequence[TargetAnswer]) -> Table:
    by_number = {a.target: a for a in answers}
    rows = [["Target", "As we understood it", "Answer"]]
    for target in scope.targets:
        answer = by_number.get(target.number)
        status = answer.status.replace("_", " ") if answer else "not answered"
        note = f": {answer.note}" if answer and answer.note else ""
        rows.append([str(target.number), Paragraph(_text(target.describe()),
                                                   _STYLES["BodyText"]),
                     Paragraph(_text(status + note), _STYLES["BodyText"])])
    return Table(rows, colWidths=[0.7 * inch, 2.8 * inch, 3.0 * inch], repeatRows=1)


def cover_letter(policy: Policy, to: Addressee, scope: Scope,
                 answers: Sequence[TargetAnswer], rows: int, not_answered: Sequence[str],
                 files: dict[str, str], when: datetime) -> bytes:
    story = _head(policy, to, "Production of records", when)
    story += _paragraphs([
        f"In answer to the process cited above we produce {rows} record rows, limited to "
        f"the targets it names and to the categories it may compel: "
        f"{', '.join(scope.categories) or 'none'}.",
        (f"Date range named: {zulu(scope.date_from)} to {zulu(scope.date_to)}."
         if scope.date_from and scope.date_to else "No date range was named."),
    ])
    if not_answered:
        story += _paragraphs([f"Not answered (outside what this process may compel, or "
                              f"narrowed): {', '.join(not_answered)}."])
    story += [Spacer(1, 8), _targets(scope, answers), Spacer(1, 8)]
    story += _paragraphs(["Files produced, with their SHA-256:"]
                         + [f"{name}: {digest}" for name, digest in sorted(files.items())])
    story += _paragraphs(["An answer of 'ambiguous', 'port required' or 'no match' means our "
                          "records do not identify a single subscriber for that target; we "
                          "do not guess."])
    return _pdf(f"Cover letter {to.reference}", story)


def certification(policy: Policy, to: Addressee, custodian: str, rows: int,
                  files: dict[str, str], when: datetime) -> bytes:
    org = policy.organization
    story = _head(policy, to, "Certification of domestic records of regularly conducted "
                  "activity (Fed. R. Evid. 902(11), 803(6))", when)
    story += _paragraphs([
        f"I, {custodian}, am a custodian of records of {org.legal_name} and am familiar with "
        "the manner in which its records are created and maintained.",
        f"The {rows} record rows produced under our reference {to.reference} in the files "
        "listed below are true copies of records that were made at or near the time of the "
        "acts and events they set forth, by, or from information transmitted by, a person "
        "with knowledge of those matters; were kept in the course of our regularly conducted "
        "business activity; and were made as a regular practice of that activity.",
        "Connectivity records were produced from the logs as written by our network "
        "equipment; each row names the log file, the line and the file's SHA-256.",
    ])
    story += _paragraphs([f"{name}: SHA-256 {digest}" for name, digest in sorted(files.items())])
    story += _paragraphs(["I certify under penalty of perjury that the foregoing is true and "
                          "correct.", "", f"Signature: ____________________   {custodian}",
                          f"Date: {when.date().isoformat()}"])
    return _pdf(f"Certification {to.reference}", story)


def rejection_letter(policy: Policy, to: Addressee, reasons: Sequence[str],
                     when: datetime) -> bytes:
    story = _head(policy, to, "We cannot answer this request", when)
    story += _paragraphs(["We have reviewed the process cited above and cannot produce "
                          "records in answer to it, for these reasons:"])
    story += _paragraphs(f"{n}. {r}" for n, r in enumerate(reasons, start=1))
    story += _paragraphs(["Nothing has been disclosed. A corrected process may be served "
                          "again; please cite our reference."])
    return _pdf(f"Rejection {to.reference}", story)


def partial_letter(policy: Policy, to: Addressee, answering: Sequence[str],
                   reasons: Sequence[str], when: datetime) -> bytes:
    story = _head(policy, to, "Partial compliance", when)
    story += _paragraphs([f"We will answer the process cited above only for: "
                          f"{', '.join(answering) or 'nothing'}. We do not answer the rest, "
                          "for these reasons:"])
    story += _paragraphs(f"{n}. {r}" for n, r in enumerate(reasons, start=1))
    return _pdf(f"Partial compliance {to.reference}", story)


def letter_for(actor: Actor, reference: str) -> tuple[str, bytes]:
    """The letter a request's answer calls for: a rejection (the reasons: the error findings
    and the rejection note) or a partial compliance (what is not answered, and why). Read
    under the case number through the gate, like the request itself."""
    from django.utils import timezone

    from cpniguard.access import access
    from cpniguard.access.gate import SubjectNotFound
    from cpniguard.legal.desk import CATEGORIES, PURPOSE, RESOURCE, answer_scope, subject_of
    from cpniguard.legal.models import LegalRequest
    from cpniguard.legal.status import BadTransition
    from cpniguard.policy import Action, current_policy

    policy = current_policy()
    with access(actor, Action.READ, resource=RESOURCE, purpose=PURPOSE, reference=reference,
                subject=subject_of(reference), categories=CATEGORIES) as permit:
        request = LegalRequest.objects.filter(reference=reference).first()
        if request is None:
            raise SubjectNotFound(f"no legal request {reference}")
        kind = policy.legal_process.get(request.kind)
        to = Addressee(request.reference, request.case_number, request.issuing_authority,
                       request.agent_name, request.agent_contact,
                       kind.label if kind else request.kind, kind.statute if kind else "")
        steps = list(request.transitions.all())
        rejected = [t.note for t in steps if t.to_status == "rejected"]
        errors = [f.message for f in request.findings.filter(severity="error")]
        now = timezone.now()
        answering = answer_scope(request, policy)
        permit.touched(["legal_request.letter", "legal_request.findings"])
        if rejected:
            return (f"{reference}-rejection.pdf",
                    rejection_letter(policy, to, [*rejected, *errors], now))
        if request.status not in ("withdrawn", "closed") and \
                set(answering) != set(request.categories):
            dropped = [c for c in request.categories if c not in answering]
            reasons = [f.message for f in request.findings.filter(
                code__in=("category-not-compellable", "narrowed", "category-unknown"))]
            reasons += [t.note for t in steps if t.note.startswith("narrowed to")]
            reasons = reasons or [f"not within what this process may compel: "
                                  f"{', '.join(dropped)}"]
            return (f"{reference}-partial-compliance.pdf",
                    partial_letter(policy, to, answering, reasons, now))
        permit.touched([])
    raise BadTransition(f"{reference} calls for no letter: it is neither rejected nor "
                        "answered in part")
