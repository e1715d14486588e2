from django.urls import path

from prepare.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.audit_search, name="search"),
    path("verify/", views.chain_verify, name="verify"),
    path("cases/<int:pk>/", views.case_access_log, name="case_access_log"),
]
