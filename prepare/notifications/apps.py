from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "prepare.notifications"
    label = "notifications"
