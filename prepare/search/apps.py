from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "prepare.search"
    label = "search"
