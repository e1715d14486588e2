from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "prepare.cases"
    label = "cases"

    def ready(self) -> None:
        from prepare.cases.lifecycle.open_items import open_key_dates, register_open_items

        register_open_items("key_dates", open_key_dates)
