"""The project's URLs plus one route whose view carries no ``route_policy``."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path


def unclassified(request: HttpRequest) -> HttpResponse:
    return HttpResponse("SHOULD-NEVER-BE-SERVED")


urlpatterns = [
    path("unclassified/", unclassified),
    path("", include("prepare.urls")),
]
