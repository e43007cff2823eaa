"""Bearer-token authentication for the API: `Authorization: Bearer cpg_...`."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from cpniguard.accounts.models import ApiToken, StaffUser


class StaffTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[StaffUser, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme != self.keyword or not secret:
            raise exceptions.AuthenticationFailed("use 'Authorization: Bearer <token>'")
        token = ApiToken.objects.select_related("user").filter(
            digest=ApiToken.digest_of(secret.strip())
        ).first()
        now = timezone.now()
        if token is None:
            raise exceptions.AuthenticationFailed("unknown token")
        if token.revoked is not None:
            raise exceptions.AuthenticationFailed("token revoked")
        if now >= token.expires:
            raise exceptions.AuthenticationFailed("token expired")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("account disabled")
        ApiToken.objects.filter(pk=token.pk).update(last_used=now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword
