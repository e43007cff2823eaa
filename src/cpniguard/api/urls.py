"""The API's URLs. Every data endpoint declares a purpose; see the OpenAPI schema."""

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path, re_path
from drf_spectacular.views import SpectacularAPIView

from cpniguard.api.attribution import AttributionAsk, AttributionBatchAsk
from cpniguard.api.audit import TrailEntries
from cpniguard.api.policy import PolicyDecide, PolicyInForce
from cpniguard.api.schema import ApiReference
from cpniguard.api.subscribers import SubscriberDetail, SubscriberInteractions, SubscriberSearch

app_name = "api"


def no_such_endpoint(request: HttpRequest, rest: str) -> JsonResponse:
    # API clients get JSON for a wrong URL too, not the staff UI's HTML error page.
    return JsonResponse({"detail": "no such API endpoint; see /api/schema/"}, status=404)

urlpatterns: list[URLPattern] = [
    path("subscribers/", SubscriberSearch.as_view(), name="subscriber-search"),
    path("subscribers/<int:subscriber_id>/", SubscriberDetail.as_view(),
         name="subscriber-detail"),
    path("subscribers/<int:subscriber_id>/interactions/", SubscriberInteractions.as_view(),
         name="subscriber-interactions"),
    path("attribution/", AttributionAsk.as_view(), name="attribution"),
    path("attribution/batch/", AttributionBatchAsk.as_view(), name="attribution-batch"),
    path("audit/entries/", TrailEntries.as_view(), name="audit-entries"),
    path("policy/", PolicyInForce.as_view(), name="policy"),
    path("policy/decide/", PolicyDecide.as_view(), name="policy-decide"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiReference.as_view(), name="docs"),
    re_path(r"^(?P<rest>.*)$", no_such_endpoint),
]
