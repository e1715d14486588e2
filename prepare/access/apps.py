from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "prepare.access"
    label = "access"
