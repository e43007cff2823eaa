"""The API's URLs. Every data endpoint declares a purpose; see the OpenAPI schema."""

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, path, re_path
from drf_spectacular.views import SpectacularAPIView

from cpniguard.api.attribution import AttributionAsk, AttributionBatchAsk
from cpniguard.api.audit import TrailEntries
from cpniguard.api.legal import (
    LegalRequestApprove,
    LegalRequestDetail,
    LegalRequestNarrow,
    LegalRequests,
    LegalRequestTransition,
    LegalRequestWithdraw,
)
from cpniguard.api.legal_answers import (
    LegalDisclosures,
    LegalRequestDeliver,
    LegalRequestLetter,
    LegalRequestNotices,
    LegalRequestPreserve,
    LegalRequestProduce,
    LegalTransparency,
)
from cpniguard.api.policy import PolicyDecide, PolicyInForce
from cpniguard.api.quality import QualityNetwork, QualitySubscriber
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
    path("legal/requests/", LegalRequests.as_view(), name="legal-requests"),
    path("legal/disclosures/", LegalDisclosures.as_view(), name="legal-disclosures"),
    path("legal/transparency/", LegalTransparency.as_view(), name="legal-transparency"),
    path("legal/requests/<str:reference>/produce/", LegalRequestProduce.as_view(),
         name="legal-request-produce"),
    path("legal/requests/<str:reference>/deliver/", LegalRequestDeliver.as_view(),
         name="legal-request-deliver"),
    path("legal/requests/<str:reference>/letter/", LegalRequestLetter.as_view(),
         name="legal-request-letter"),
    path("legal/requests/<str:reference>/preserve/", LegalRequestPreserve.as_view(),
         name="legal-request-preserve"),
    path("legal/requests/<str:reference>/notices/", LegalRequestNotices.as_view(),
         name="legal-request-notices"),
    path("legal/requests/<str:reference>/", LegalRequestDetail.as_view(),
         name="legal-request"),
    path("legal/requests/<str:reference>/transition/", LegalRequestTransition.as_view(),
         name="legal-request-transition"),
    path("legal/requests/<str:reference>/approve/", LegalRequestApprove.as_view(),
         name="legal-request-approve"),
    path("legal/requests/<str:reference>/narrow/", LegalRequestNarrow.as_view(),
         name="legal-request-narrow"),
    path("legal/requests/<str:reference>/withdraw/", LegalRequestWithdraw.as_view(),
         name="legal-request-withdraw"),
    path("quality/network/", QualityNetwork.as_view(), name="quality-network"),
    path("quality/subscriber/<str:account>/", QualitySubscriber.as_view(),
         name="quality-subscriber"),
    path("policy/", PolicyInForce.as_view(), name="policy"),
    path("policy/decide/", PolicyDecide.as_view(), name="policy-decide"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiReference.as_view(), name="docs"),
    re_path(r"^(?P<rest>.*)$", no_such_endpoint),
]
