from django.urls import path

from prepare.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("alerts/", views.alerts_view, name="alerts"),
    path("cases/<int:pk>/", views.case_monitoring_view, name="case_monitoring"),
    path("cases/<int:pk>/contacts/", views.contact_create_view, name="contact_create"),
    path(
        "cases/<int:pk>/contacts/<int:contact_pk>/",
        views.contact_correct_view,
        name="contact_correct",
    ),
    path("cases/<int:pk>/conditions/", views.condition_create_view, name="condition_create"),
    path(
        "cases/<int:pk>/conditions/<int:condition_pk>/end/",
        views.condition_end_view,
        name="condition_end",
    ),
    path("cases/<int:pk>/breaches/", views.breach_create_view, name="breach_create"),
    path("cases/<int:pk>/signals/", views.signal_create_view, name="signal_create"),
    path(
        "cases/<int:pk>/signals/<int:signal_pk>/acknowledge/",
        views.signal_acknowledge_view,
        name="signal_acknowledge",
    ),
    path(
        "cases/<int:pk>/signals/<int:signal_pk>/close/",
        views.signal_close_view,
        name="signal_close",
    ),
]
