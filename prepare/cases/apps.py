from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "prepare.cases"
    label = "cases"
