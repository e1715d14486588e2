"""``/api/``: the schema, its documentation, and ``/api/v1/`` composed from each
domain app's own routes (its ``api`` module's ``urlpatterns``)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from prepare.access.routes import RoutePolicy, route_policy
from prepare.accounts import api as accounts_api
from prepare.accounts.sso import api as sso_api
from prepare.administration import api as administration_api
from prepare.api.docs import SwaggerDocsView
from prepare.assessments import api as assessments_api
from prepare.cases import api as cases_api
from prepare.cases.lifecycle import api as lifecycle_api
from prepare.cases.retention import api as retention_api
from prepare.cases.timeline import api as timeline_api
from prepare.cases.transfer import api as transfer_api
from prepare.documents import api as documents_api
from prepare.monitoring import api as monitoring_api
from prepare.notifications import api as notifications_api
from prepare.partnerships import api as partnerships_api
from prepare.partnerships.access_changes import api as access_changes_api
from prepare.plans import api as plans_api
from prepare.search import api as search_api

# Signed in (token or verified session) unless PREPARE_PUBLIC_API_SCHEMA: the
# API layer decides (SPECTACULAR_SETTINGS["SERVE_PERMISSIONS"]).
schema_view = route_policy(RoutePolicy.API)(SpectacularAPIView.as_view())
docs_view = route_policy(RoutePolicy.API)(SwaggerDocsView.as_view(url_name="schema"))

urlpatterns = [
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="api_docs"),
    *cases_api.urlpatterns,
    *accounts_api.urlpatterns,
    *sso_api.urlpatterns,
    *plans_api.urlpatterns,
    *transfer_api.urlpatterns,
    *lifecycle_api.urlpatterns,
    *monitoring_api.urlpatterns,
    *notifications_api.urlpatterns,
    *timeline_api.urlpatterns,
    *retention_api.urlpatterns,
    *documents_api.urlpatterns,
    *search_api.urlpatterns,
    *access_changes_api.urlpatterns,
    *administration_api.urlpatterns,
    *partnerships_api.urlpatterns,
    *assessments_api.urlpatterns,
]
