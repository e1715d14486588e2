from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "prepare.demo"
    label = "demo"
