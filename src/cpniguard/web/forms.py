"""The UI's forms. Purpose fields are plain text with a list of suggestions: the form never
rejects a purpose, so that a purpose the role may not use reaches the access gate and is
refused there, audited, with the policy's own reason."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django import forms

from cpniguard.accounts.services import MAX_TOKEN_DAYS
from cpniguard.audit.models import Outcome
from cpniguard.policy import current_policy
from cpniguard.subscribers.models import Interaction
from cpniguard.web.guards import PurposeOption


def _purpose_select(options: list[PurposeOption], blank: str) -> forms.Select:
    return forms.Select(choices=[("", blank), *[(o.id, o.choice_label) for o in options]])


class LoginForm(forms.Form):
    username = forms.CharField(max_length=150, widget=forms.TextInput(
        attrs={"autocomplete": "username", "autofocus": True}))
    password = forms.CharField(max_length=1024, strip=False, widget=forms.PasswordInput(
        attrs={"autocomplete": "current-password"}))


class CodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code", max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric",
                                      "autofocus": True, "pattern": "[0-9 ]{6,7}"}))


class PurposeForm(forms.Form):
    """Purpose and reference, declared before a record is opened or a search is run."""

    purpose = forms.CharField(max_length=64, required=False)
    reference = forms.CharField(max_length=64, required=False, strip=True)

    def __init__(self, *args: Any, options: list[PurposeOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.options = options
        self.fields["purpose"].widget = _purpose_select(options, "— choose a purpose —")
        self.fields["reference"].widget.attrs.update(
            {"placeholder": "e.g. " + ", ".join(o.reference_example for o in options
                                                if o.needs_reference) or "not needed"})


class SearchForm(PurposeForm):
    q = forms.CharField(label="Search", max_length=200, required=False, widget=forms.TextInput(
        attrs={"placeholder": "account number, last name, phone, email or street",
               "type": "search"}))


class InteractionForm(forms.Form):
    # Not required: a missing purpose must reach the gate and be refused there, audited.
    purpose = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    reference = forms.CharField(max_length=64, required=False, widget=forms.HiddenInput)
    channel = forms.ChoiceField(choices=Interaction.Channel.choices, initial="phone",
                                required=False)
    summary = forms.CharField(max_length=4000, widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "What was asked, what was done, what follows"}))

    def clean_channel(self) -> str:
        return str(self.cleaned_data.get("channel") or Interaction.Channel.NOTE)


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, widget=forms.TextInput(
        attrs={"placeholder": "what the token is for, e.g. ticketing integration"}))
    days = forms.IntegerField(min_value=1, max_value=MAX_TOKEN_DAYS, initial=30,
                              label="Valid for (days)")


def _parse_utc(value: str) -> datetime:
    """An ISO time; without an offset it is taken as UTC, which the form says it uses."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class UtcDateTimeField(forms.CharField):
    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            return _parse_utc(text)
        except ValueError:
            raise forms.ValidationError(
                "Use a date and time such as 2026-11-30T14:00 (UTC) or with an offset "
                "such as 2026-11-30T09:00-05:00.") from None


class AuditFilterForm(forms.Form):
    subscriber = forms.IntegerField(min_value=1, required=False, label="Subscriber id")
    staff = forms.CharField(max_length=150, required=False, label="Staff username")
    entry_purpose = forms.ChoiceField(required=False, label="Declared purpose")
    outcome = forms.ChoiceField(required=False,
                                choices=[("", "any outcome"), *Outcome.choices])
    since = UtcDateTimeField(required=False, label="From (UTC)",
                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = UtcDateTimeField(required=False, label="Before (UTC)",
                             widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    page = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        purposes = current_policy().purposes.values()
        field = self.fields["entry_purpose"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", "any purpose"), *[(p.id, p.label) for p in purposes]]
