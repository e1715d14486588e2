"""The project's URLs plus one small API view, to test API authentication alone."""

from django.urls import include, path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from prepare.access.routes import RoutePolicy, route_policy


@route_policy(RoutePolicy.API)
class WhoAmI(APIView):
    def get(self, request: Request) -> Response:
        return Response({"user": request.user.pk, "token": request.auth is not None})

    def post(self, request: Request) -> Response:
        return Response({"user": request.user.pk})


urlpatterns = [
    path("api/test-whoami/", WhoAmI.as_view()),
    path("", include("prepare.urls")),
]
