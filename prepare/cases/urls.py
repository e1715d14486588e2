from django.urls import path

from prepare.cases import views

app_name = "cases"

urlpatterns = [
    path("", views.caseload_view, name="caseload"),
    path("cases/<int:pk>/", views.case_view, name="case"),
]
