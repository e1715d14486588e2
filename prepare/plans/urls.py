from django.urls import path

from prepare.plans import views

app_name = "plans"

urlpatterns = [
    path("board/", views.release_board_view, name="release_board"),
    path("tasks/", views.my_tasks_view, name="my_tasks"),
    path("cases/<int:pk>/checklist/", views.case_checklist_view, name="case_checklist"),
    path("cases/<int:pk>/checklist/start/", views.checklist_start_view, name="checklist_start"),
    path(
        "cases/<int:pk>/checklist/owners/",
        views.checklist_owners_view,
        name="checklist_owners",
    ),
    path(
        "cases/<int:pk>/checklist/items/",
        views.checklist_item_add_view,
        name="checklist_item_add",
    ),
    path(
        "cases/<int:pk>/checklist/items/<int:item_pk>/",
        views.checklist_item_view,
        name="checklist_item",
    ),
]
