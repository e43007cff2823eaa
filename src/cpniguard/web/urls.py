"""The staff UI's URL map. Names and paths are a contract: the permission-matrix tests walk
them, so change them only together with tests/matrix."""

from django.urls import URLPattern, URLResolver, path

from cpniguard.web import (
    attribution_views,
    legal_answer_views,
    legal_intake_views,
    legal_views,
    legal_workflow_views,
    quality_views,
)
from cpniguard.web.views import records, staff

app_name = "web"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", staff.home, name="home"),
    path("login/", staff.login_page, name="login"),
    path("login/second-factor/", staff.second_factor_page, name="second_factor"),
    path("logout/", staff.logout_page, name="logout"),
    path("subscribers/", records.subscriber_search, name="subscriber_search"),
    path("subscribers/<int:pk>/", records.subscriber_detail, name="subscriber_detail"),
    path("subscribers/<int:pk>/interactions/", records.interaction_add,
         name="interaction_add"),
    path("audit/", records.audit_trail, name="audit"),
    path("attribution/", attribution_views.attribution, name="attribution"),
    path("attribution/batch/", attribution_views.attribution_batch, name="attribution_batch"),
    path("network/", quality_views.network, name="network"),
    path("network/subscriber/", quality_views.subscriber_quality, name="subscriber_quality"),
    path("network/plots/<str:plot>.csv", quality_views.plot_csv, name="quality_plot_csv"),
    path("legal/", legal_views.legal_list, name="legal_list"),
    path("legal/new/", legal_intake_views.legal_new, name="legal_new"),
    path("legal/transparency/", legal_answer_views.legal_transparency,
         name="legal_transparency"),
    path("legal/<str:reference>/", legal_views.legal_detail, name="legal_detail"),
    path("legal/<str:reference>/produce/", legal_answer_views.legal_produce,
         name="legal_produce"),
    path("legal/<str:reference>/deliver/", legal_answer_views.legal_deliver,
         name="legal_deliver"),
    path("legal/<str:reference>/letter/", legal_answer_views.legal_letter,
         name="legal_letter"),
    path("legal/<str:reference>/steps/<str:step>/", legal_workflow_views.legal_step,
         name="legal_step"),
    path("legal/<str:reference>/manifest/", legal_workflow_views.legal_manifest,
         name="legal_manifest"),
    path("account/tokens/", staff.tokens, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", staff.token_revoke, name="token_revoke"),
    path("policy/notice/", staff.policy_notice, name="policy_notice"),
]
