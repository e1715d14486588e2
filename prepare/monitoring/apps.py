from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "prepare.monitoring"
    label = "monitoring"
