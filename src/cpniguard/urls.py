"""URL map: the staff UI at /, the API under /api/."""

from django.urls import include, path

urlpatterns = [
    path("api/", include("cpniguard.api.urls")),
    path("", include("cpniguard.web.urls")),
]
