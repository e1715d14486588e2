from django.urls import path

from prepare.cases import views

app_name = "cases"

urlpatterns = [
    path("", views.caseload_view, name="caseload"),
    path("cases/<int:pk>/", views.case_view, name="case"),
    path("cases/<int:pk>/notes/", views.note_create_view, name="note_create"),
    path("cases/<int:pk>/notes/<int:note_pk>/edit/", views.note_edit_view, name="note_edit"),
    path("cases/<int:pk>/team/", views.team_view, name="team"),
    path(
        "cases/<int:pk>/team/<int:member_pk>/remove/",
        views.team_remove_view,
        name="team_remove",
    ),
    path("cases/<int:pk>/break-glass/", views.break_glass_view, name="break_glass"),
]
