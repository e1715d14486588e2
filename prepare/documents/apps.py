from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "prepare.documents"
    label = "documents"
