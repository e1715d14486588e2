from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from prepare.access.routes import RoutePolicy, route_policy

schema_view = route_policy(RoutePolicy.PUBLIC)(SpectacularAPIView.as_view())
docs_view = route_policy(RoutePolicy.PUBLIC)(SpectacularSwaggerView.as_view(url_name="schema"))

urlpatterns = [
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="api_docs"),
]
