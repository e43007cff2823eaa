"""Refusing what must never be stored."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

_digits = re.compile(r"[0-9][0-9 \-]{10,}[0-9]")


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def looks_like_full_account_number(value: str) -> bool:
    """A card number (12-19 digits passing Luhn) or a bank account number (8+ bare digits)."""
    for match in _digits.finditer(value):
        digits = re.sub(r"[ \-]", "", match.group())
        if 12 <= len(digits) <= 19 and luhn_valid(digits):
            return True
    return bool(re.search(r"(?<![0-9])[0-9]{8,17}(?![0-9])", value))


def validate_not_full_account_number(value: str) -> None:
    if looks_like_full_account_number(value):
        raise ValidationError(
            "looks like a full card or bank account number; store the processor token only"
        )
