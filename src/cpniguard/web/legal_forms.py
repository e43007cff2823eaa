"""The legal desk's forms: intake of a request, and the notes and choices of workflow steps.

The intake form does not read a request itself. It turns what the custodian typed into a
request document of the documented format (`cpniguard-legal-request/1`) and hands it to
`legal.intake.take_in`, the service the CLI and the API use, whose reader turns whatever is
wrong in a field (a date that is not one, an instant without its zone, an unreadable phone
number, a field the kind requires left empty) into a finding on the request's page. The form
itself refuses only what the document could not express: a choice the policy does not offer,
a target line without a kind or a value, half a date range, an expiry with no order, an
empty or oversized file, two files of one name. Each such error names its field and line.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from cpniguard.legal.attachments import MAX_BYTES, safe_name
from cpniguard.legal.intake import Incoming
from cpniguard.legal.request_format import FORMAT, TARGET_KINDS
from cpniguard.policy import Policy

MAX_TARGETS = 1000
# ' @ ' between a target's value and its instant; an email's own @ has no space around it.
_AT = re.compile(r"\s+@(?:\s+|$)")
INSTANT_HINT = "with its offset or zone: 2026-11-18T14:05:03-06:00 or 2026-11-18 14:05:03 " \
               "America/Chicago"
SIGNED_CHOICES = [("", "not stated"), ("yes", "yes, signed"), ("no", "no signature")]
# Form fields carried into the document as text, under the document's own key.
TEXT_KEYS = ("issuing_authority", "court", "case_number", "addressed_to", "issued",
             "served", "response_due", "notes")
AGENT_KEYS = {"name": "agent_name", "contact": "agent_contact",
              "verified_by": "contact_verification"}


def _text(label: str, *, help_text: str = "", placeholder: str = "", kind: str = "text",
          area: bool = False) -> forms.CharField:
    attrs = {"placeholder": placeholder} if placeholder else {}
    widget: forms.Widget = forms.Textarea(attrs={**attrs, "rows": 5}) if area \
        else forms.TextInput(attrs={**attrs, "type": kind})
    return forms.CharField(label=label, required=False, max_length=100_000 if area else 1000,
                           help_text=help_text, widget=widget)


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked as a FileField would check one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile[bytes]]:
        items = data if isinstance(data, (list, tuple)) else [data] if data else []
        return [super(MultipleFileField, self).clean(item, initial) for item in items]


def target_lines(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """`kind value` or `kind value @ instant`, one target a line, blank lines skipped.

    Only the line's shape is read here; the value and the instant go into the document as
    written, and the intake's reader understands them (or makes a finding of them)."""
    targets: list[dict[str, str]] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        head, _, rest = line.strip().partition(" ")
        kind = head.lower()
        value, *after = _AT.split(rest, maxsplit=1)
        marker, at = bool(after), "".join(after)
        if kind not in TARGET_KINDS:
            problems.append(f"line {number}: {head!r} is not a kind of target; start the "
                            f"line with one of {', '.join(TARGET_KINDS)}")
        elif not value.strip():
            problems.append(f"line {number}: the {kind} target has no value")
        elif marker and not at.strip():
            problems.append(f"line {number}: nothing after ' @ '; give the instant {INSTANT_HINT}")
        else:
            target = {"kind": kind, "value": value.strip()}
            if at.strip():
                target["at"] = at.strip()
            targets.append(target)
    if len(targets) > MAX_TARGETS:
        problems.append(f"more than {MAX_TARGETS} targets: split the request")
    return targets, problems


class IntakeForm(forms.Form):
    kind = forms.ChoiceField(label="Kind of process")
    issuing_authority = _text("Issuing authority")
    court = _text("Court")
    case_number = _text("Case or docket number")
    agent_name = _text("Requesting agent")
    agent_contact = _text("Agent's contact")
    contact_verification = _text("How the contact was verified",
                                 placeholder="e.g. called back on the agency's published number")
    addressed_to = _text("Addressed to", help_text="the entity the process names, as written")
    signed = forms.ChoiceField(label="Signature present", choices=SIGNED_CHOICES,
                               required=False)
    issued = _text("Issued (day)", kind="date")
    served = _text("Served", help_text=f"a day (YYYY-MM-DD) or an instant {INSTANT_HINT}")
    response_due = _text("Response due (day)", kind="date")
    targets = _text(
        "Targets, one per line", area=True,
        placeholder="ip 192.0.2.10 @ 2026-11-18T14:05:03-06:00\nphone (802) 555-0142",
        help_text=f"kind, a space, the value; for an ip target, ' @ ' and the instant "
                  f"{INSTANT_HINT}. Kinds: {', '.join(TARGET_KINDS)}. Target 1 is the first "
                  "line that is not blank.")
    categories = forms.MultipleChoiceField(label="Categories asked for", required=False,
                                           widget=forms.CheckboxSelectMultiple)
    date_from = _text("Date range from", help_text=f"an instant {INSTANT_HINT}")
    date_to = _text("Date range to", help_text="the same, or leave both empty")
    nondisclosure = forms.BooleanField(label="Non-disclosure order (18 U.S.C. 2705(b))",
                                       required=False)
    nondisclosure_until = _text("Non-disclosure order expires (day)", kind="date")
    documents = forms.MultipleChoiceField(label="Documents that came with it",
                                          required=False, widget=forms.CheckboxSelectMultiple)
    attachments = MultipleFileField(
        label="Attachments", required=False,
        help_text=f"the process itself and what came with it; kept unaltered by SHA-256, up "
                  f"to {MAX_BYTES // 2**20} MB each")
    notes = _text("Notes", area=True)

    def __init__(self, *args: Any, policy: Policy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = [("", "— choose the kind of process —"),
                              *[(k.id, k.label) for k in policy.legal_process.values()]]
        compellable = {c for k in policy.legal_process.values() for c in k.may_compel}
        category_field = self.fields["categories"]
        assert isinstance(category_field, forms.MultipleChoiceField)
        category_field.choices = [(c.id, c.label) for c in policy.categories.values()
                                  if c.cpni or c.id in compellable]
        document_field = self.fields["documents"]
        assert isinstance(document_field, forms.MultipleChoiceField)
        document_field.choices = list(policy.legal_documents.items())
        self.fields["addressed_to"].widget.attrs["placeholder"] = policy.organization.name

    def clean_targets(self) -> list[dict[str, str]]:
        targets, problems = target_lines(self.cleaned_data.get("targets") or "")
        if problems:
            raise forms.ValidationError(problems)
        return targets

    def clean_attachments(self) -> list[UploadedFile[bytes]]:
        files: list[UploadedFile[bytes]] = self.cleaned_data.get("attachments") or []
        names = [safe_name(f.name or "") for f in files]
        problems = [f"{name}: larger than {MAX_BYTES // 2**20} MB"
                    for name, f in zip(names, files, strict=True) if (f.size or 0) > MAX_BYTES]
        problems += [f"two files are named {name}; rename one"
                     for name in sorted({n for n in names if names.count(n) > 1})]
        if problems:
            raise forms.ValidationError(problems)
        return files

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("date_from")) != bool(data.get("date_to")):
            self.add_error("date_to" if data.get("date_from") else "date_from",
                           "a date range needs both ends, from and to (or neither)")
        if data.get("nondisclosure_until") and not data.get("nondisclosure"):
            self.add_error("nondisclosure_until", "an expiry without a non-disclosure order: "
                           "tick the order, or leave the expiry empty")
        return data

    def document(self) -> dict[str, Any]:
        """The request as a document of the documented format, only the fields given."""
        data = self.cleaned_data
        document: dict[str, Any] = {"format": FORMAT, "kind": data["kind"]}
        document.update({key: data[key] for key in TEXT_KEYS if data.get(key)})
        agent = {key: data[name] for key, name in AGENT_KEYS.items() if data.get(name)}
        if agent:
            document["agent"] = agent
        if data.get("signed"):
            document["signed"] = data["signed"] == "yes"
        if data.get("targets"):
            document["targets"] = data["targets"]
        if data.get("categories"):
            document["categories"] = list(data["categories"])
        if data.get("date_from"):
            document["date_range"] = {"from": data["date_from"], "to": data["date_to"]}
        if data.get("nondisclosure"):
            document["nondisclosure"] = {"ordered": True,
                                         "until": data.get("nondisclosure_until") or None}
        if data.get("documents"):
            document["documents"] = list(data["documents"])
        return document

    def incoming(self) -> list[Incoming]:
        return [Incoming(f.name or "attachment", f.read(), f.content_type or "")
                for f in self.cleaned_data.get("attachments") or []]


class StepForm(forms.Form):
    """A workflow step's note; a rejection's note is its reasons, and goes into the letter."""

    note = forms.CharField(label="Note", required=False, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 2}))


class NarrowForm(StepForm):
    categories = forms.MultipleChoiceField(label="Answer only", required=False,
                                           widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, asked: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["categories"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(c, c) for c in asked]
