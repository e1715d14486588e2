from django.urls import include, path
from django.views.i18n import set_language

from prepare.access.routes import RoutePolicy, route_policy
from prepare.health import health

urlpatterns = [
    path("", include("prepare.home.urls")),
    path("", include("prepare.cases.urls")),
    path("account/", include("prepare.accounts.urls")),
    path("partnerships/", include("prepare.partnerships.urls")),
    path("audit/", include("prepare.audit.urls")),
    path("plans/", include("prepare.plans.urls")),
    path("monitoring/", include("prepare.monitoring.urls")),
    path("notifications/", include("prepare.notifications.urls")),
    path("api/", include("prepare.api.urls")),
    path("health/", health, name="health"),
    path("i18n/set-language/", route_policy(RoutePolicy.PUBLIC)(set_language), name="set_language"),
]
