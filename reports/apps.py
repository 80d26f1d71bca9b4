from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = gettext_lazy("Reports: figures and the live monitor")

    def ready(self) -> None:
        """The live monitor hears what chat announces after a commit (reports/floor.py)."""
        from chat import hooks
        from reports.floor import floor_changed_publish

        hooks.on_queue_changed(floor_changed_publish)
        hooks.on_conversation_changed(floor_changed_publish)
        hooks.on_agent_free(floor_changed_publish)
        hooks.on_agent_changed(floor_changed_publish)
