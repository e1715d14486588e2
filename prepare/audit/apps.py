from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "prepare.audit"
    label = "audit"
