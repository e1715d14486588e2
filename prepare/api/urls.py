from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from prepare.access.routes import RoutePolicy, route_policy
from prepare.api import casework, lifecycle, monitoring, plans, transfers, views
from prepare.api import checklist_templates as checklist_templates_api
from prepare.api import notifications as notifications_api
from prepare.api import triage as triage_api
from prepare.api.docs import SwaggerDocsView

schema_view = route_policy(RoutePolicy.PUBLIC)(SpectacularAPIView.as_view())
docs_view = route_policy(RoutePolicy.PUBLIC)(SwaggerDocsView.as_view(url_name="schema"))

case_list = views.CaseViewSet.as_view({"get": "list"})
case_detail = views.CaseViewSet.as_view({"get": "retrieve"})
team = views.TeamViewSet.as_view({"get": "list", "post": "create"})
team_member = views.TeamViewSet.as_view({"delete": "destroy"})
notes = views.NoteViewSet.as_view({"get": "list", "post": "create"})
note = views.NoteViewSet.as_view({"get": "retrieve", "put": "update", "patch": "partial_update"})
me = views.MeView.as_view({"get": "retrieve"})
checklist = plans.ChecklistViewSet.as_view({"get": "list", "post": "create"})
checklist_item = plans.ChecklistItemViewSet.as_view({"patch": "partial_update"})
release_board = plans.ReleaseBoardViewSet.as_view({"get": "list"})

urlpatterns = [
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="api_docs"),
    path("v1/cases/", case_list, name="v1_cases"),
    path("v1/cases/<int:case_id>/", case_detail, name="v1_case"),
    path("v1/cases/<int:case_id>/team/", team, name="v1_case_team"),
    path("v1/cases/<int:case_id>/team/<int:member_id>/", team_member, name="v1_case_team_member"),
    path("v1/cases/<int:case_id>/notes/", notes, name="v1_case_notes"),
    path("v1/cases/<int:case_id>/notes/<int:note_id>/", note, name="v1_case_note"),
    path("v1/me/", me, name="v1_me"),
    path("v1/cases/<int:case_id>/checklist/", checklist, name="v1_case_checklist"),
    path("v1/checklist-items/<int:item_id>/", checklist_item, name="v1_checklist_item"),
    path("v1/release-board/", release_board, name="v1_release_board"),
    *transfers.urlpatterns,
    *lifecycle.urlpatterns,
    *monitoring.urlpatterns,
    *triage_api.urlpatterns,
    *notifications_api.urlpatterns,
    *checklist_templates_api.urlpatterns,
    *casework.urlpatterns,
]
