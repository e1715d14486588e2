from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "prepare.plans"
    label = "plans"
