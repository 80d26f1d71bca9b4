from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class RoutingConfig(AppConfig):
    name = "routing"
    verbose_name = gettext_lazy("Routing: business lines and the waiting queue")

    def ready(self) -> None:
        """Listen to what chat announces after a commit: routing depends on chat, chat never on routing."""
        from chat import hooks
        from routing.services import conversation_state_publish, line_agents_publish
        from routing.tasks import agent_free_request, line_changed_request

        hooks.on_queue_changed(line_changed_request)
        hooks.on_queue_changed(line_agents_publish)
        hooks.on_agent_free(agent_free_request)
        hooks.on_conversation_changed(conversation_state_publish)
