"""API fixtures: a staff member of a given role holding a live bearer token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from cpniguard.accounts.models import ApiToken, StaffUser

TokenClient = Callable[..., APIClient]


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


@pytest.fixture
def api_as(db: None) -> TokenClient:
    """`api_as("support")`: an APIClient authenticated as a new staff member in that role."""

    def make(role: str, username: str | None = None) -> APIClient:
        user = StaffUser(username=username or f"{role}-api", role=role)
        # No password: API callers authenticate with their token only.
        user.set_unusable_password()
        user.save()
        _, secret = ApiToken.issue(user, "tests", timezone.now() + timedelta(days=1))
        return bearer(secret)

    return make
