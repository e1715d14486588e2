from django.urls import include, path

from prepare.accounts import views as accounts_views
from prepare.health import health

urlpatterns = [
    path("", include("prepare.home.urls")),
    path("", include("prepare.cases.urls")),
    path("", include("prepare.assessments.urls")),
    path("account/", include("prepare.accounts.urls")),
    path("partnerships/", include("prepare.partnerships.urls")),
    path("audit/", include("prepare.audit.urls")),
    path("administration/", include("prepare.administration.urls")),
    path("plans/", include("prepare.plans.urls")),
    path("monitoring/", include("prepare.monitoring.urls")),
    path("notifications/", include("prepare.notifications.urls")),
    path("documents/", include("prepare.documents.urls")),
    path("search/", include("prepare.search.urls")),
    path("api/", include("prepare.api.urls")),
    path("health/", health, name="health"),
    path("i18n/set-language/", accounts_views.language_set, name="set_language"),
]
