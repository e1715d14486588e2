from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "prepare.accounts"
    label = "accounts"

    def ready(self) -> None:
        from prepare import checks  # noqa: F401  (registers the system checks)
