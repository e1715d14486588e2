from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "prepare.monitoring"
    label = "monitoring"

    def ready(self) -> None:
        from prepare.cases.lifecycle.open_items import register_open_items
        from prepare.monitoring.open_items import unacknowledged_signals

        register_open_items("signals", unacknowledged_signals)
