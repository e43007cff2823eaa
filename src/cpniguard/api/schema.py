"""OpenAPI: how the bearer token appears in the schema, and the API reference page.

The reference page is Swagger UI from the locally installed sidecar package (no CDN: the
service runs on closed networks), split so that its start-up script is a file of its own and
the page passes the Content-Security-Policy without 'unsafe-inline'.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularSwaggerSplitView


class StaffTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "cpniguard.accounts.tokens.StaffTokenAuthentication"
    name = "staffToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`cpg_...`) issued by an administrator; "
            "send `Authorization: Bearer <token>`. Expired or revoked tokens get 401.",
        }


class ApiReference(SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    url_name = "api:schema"
