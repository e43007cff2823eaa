"""Display helpers: times in UTC with their offset, money from cents, readable phone numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from django import template

register = template.Library()


@register.filter
def when(value: object) -> str:
    """`2026-11-30 14:03:07 +00:00`: stored UTC, shown with its offset so nobody guesses."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    moment = value.astimezone(UTC)
    offset = moment.strftime("%z")  # +0000; %:z needs Python 3.12
    return f"{moment:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


@register.filter
def dollars(cents: object) -> str:
    if not isinstance(cents, int):
        return ""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{part:02d}"


@register.filter
def nanp(number: object) -> str:
    """+18025550142 → (802) 555-0142; anything else unchanged."""
    text = "" if number is None else str(number)
    if len(text) == 12 and text.startswith("+1") and text[2:].isdigit():
        return f"({text[2:5]}) {text[5:8]}-{text[8:]}"
    return text


@register.filter
def purpose_label(purpose: object) -> str:
    """The policy's label for a purpose id; unknown ids (refused attempts) as given."""
    from cpniguard.web.guards import purpose_label as label

    return label(str(purpose))


@register.filter
def yesno_mark(value: object) -> str:
    return "yes" if value else "no"
