"""URL shapes the route walker must handle: DRF routers with format suffixes,
class-based views, regex routes, nested namespaces, and one route without a
policy (which the walker must report)."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.generic import View
from rest_framework import routers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.urlpatterns import format_suffix_patterns

from prepare.access.routes import RoutePolicy, route_policy


@route_policy(RoutePolicy.API)
class ThingViewSet(viewsets.ViewSet):
    def list(self, request: Request) -> Response:
        return Response([])

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response({"pk": pk})


@route_policy(RoutePolicy.SIGNED_IN)
class PlainView(View):
    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        return HttpResponse(slug)


@route_policy(RoutePolicy.SIGNED_IN)
def by_uuid(request: HttpRequest, ref: object) -> HttpResponse:
    return HttpResponse(str(ref))


def forgotten(request: HttpRequest, year: str) -> HttpResponse:
    return HttpResponse(year)


router = routers.SimpleRouter()
router.register("things", ThingViewSet, basename="thing")

inner = (
    [
        path("plain/<slug:slug>/", PlainView.as_view(), name="plain"),
        path("by-uuid/<uuid:ref>/", by_uuid, name="by_uuid"),
        re_path(r"^archive/(?P<year>[0-9]{4})/$", forgotten, name="forgotten"),
    ],
    "inner",
)

urlpatterns = [
    path("api/", include((format_suffix_patterns(router.urls), "things"))),
    path("outer/", include(inner)),
]
