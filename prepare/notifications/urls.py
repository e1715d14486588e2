from django.urls import path

from prepare.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.notification_list, name="list"),
    path("<int:pk>/read/", views.mark_read, name="mark_read"),
    path("read-all/", views.mark_all_read, name="mark_all_read"),
    path("calendar/", views.calendar_settings, name="calendar_settings"),
    path("calendar/<uuid:feed_id>.ics", views.calendar_feed, name="calendar_feed"),
]
