from django.apps import AppConfig


class AdministrationConfig(AppConfig):
    name = "prepare.administration"
    label = "administration"
    verbose_name = "Administration"

    def ready(self) -> None:
        # The setup gaps this app knows of register themselves on import.
        from prepare.administration import gaps  # noqa: F401
