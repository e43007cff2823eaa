"""The customer notice as a PDF letter: the subscriber is told which process named them.

Built from plain data like the desk's other letters (`letters.py`: ReportLab, `invariant=1`,
request text escaped), so the same inputs give the same bytes. The letter speaks only of the
subscriber it is addressed to: it names the process, what was asked (categories and dates),
and by when they may object, and never the request's other targets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from reportlab.platypus import Flowable, Paragraph, Spacer

from cpniguard.legal.letters import _STYLES, _paragraphs, _pdf, _text
from cpniguard.legal.scope import zulu
from cpniguard.policy import Policy
from cpniguard.policy.legal_process import NOTICE_BEFORE


@dataclass(frozen=True, slots=True)
class Recipient:
    """The subscriber as our records have them, read through the gate for this letter."""

    name: str
    address: tuple[str, ...]  # lines, as they go on the envelope


@dataclass(frozen=True, slots=True)
class Process:
    """What was served on us, in the request's own words."""

    reference: str
    kind_label: str
    statute: str
    authority: str
    court: str
    case_number: str
    served: str
    categories: tuple[str, ...]       # labels of the categories asked for
    date_from: datetime | None
    date_to: datetime | None


def notice_letter(policy: Policy, to: Recipient, process: Process, timing: str,
                  object_by: date | None, when: datetime) -> bytes:
    org = policy.organization
    story: list[Flowable] = [
        Paragraph(_text(org.legal_name), _STYLES["Title"]),
        Paragraph(f"{_text(org.privacy_contact)} - {_text(org.phone)}", _STYLES["Normal"]),
        Spacer(1, 12),
        Paragraph(f"Date: {when.date().isoformat()}", _STYLES["Normal"]),
        Spacer(1, 6),
        *[Paragraph(_text(line), _STYLES["Normal"]) for line in (to.name, *to.address)],
        Spacer(1, 12),
        Paragraph(f"Re: legal process naming your account; our reference "
                  f"{_text(process.reference)}", _STYLES["Normal"]),
        Spacer(1, 12),
        Paragraph("Notice of legal process", _STYLES["Heading2"]),
    ]
    story += _paragraphs([f"Dear {to.name},", *_body(process, timing, object_by)])
    story += _paragraphs([
        f"If you have questions about this notice, write to {org.privacy_contact} or call "
        f"{org.phone}, citing our reference {process.reference}. We cannot give you legal "
        "advice; you may wish to consult a lawyer.",
    ])
    return _pdf(f"Customer notice {process.reference}", story)


def _body(process: Process, timing: str, object_by: date | None) -> Sequence[str]:
    court = f" in {process.court}" if process.court else ""
    served = process.served or "a date not stated"
    asked = ", ".join(process.categories) or "information about your account"
    period = (f" for the period {zulu(process.date_from)} to {zulu(process.date_to)} (UTC)"
              if process.date_from and process.date_to else "")
    lines = [
        f"We have received a {process.kind_label} ({process.statute}) issued by "
        f"{process.authority or 'the requesting party'}{court}, case or docket number "
        f"{process.case_number or 'not stated'}, served on us on {served}. It asks us for "
        "records about your account.",
        f"It asks for: {asked}{period}.",
    ]
    if timing == NOTICE_BEFORE and object_by is not None:
        lines += [
            f"You may object to it, for example by filing a motion to quash with the court "
            f"that issued it, no later than {object_by.isoformat()}. Please also tell us, "
            "citing our reference, if you do.",
            f"Unless we are served with a motion to quash or another court order by "
            f"{object_by.isoformat()}, we will comply with the process after that date, "
            "disclosing only what it may lawfully compel.",
        ]
    else:
        lines.append("We have answered it, disclosing only what it may lawfully compel. We "
                     "tell you now because the law allows us to.")
    return lines
