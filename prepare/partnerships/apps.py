from django.apps import AppConfig


class PartnershipsConfig(AppConfig):
    name = "prepare.partnerships"
    label = "partnerships"
