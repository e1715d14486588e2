from django.apps import AppConfig


class PlansConfig(AppConfig):
    name = "prepare.plans"
    label = "plans"

    def ready(self) -> None:
        from prepare.cases.lifecycle.open_items import register_open_items
        from prepare.plans.open_items import open_checklist_items

        register_open_items("checklist", open_checklist_items)
