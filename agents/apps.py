from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AgentsConfig(AppConfig):
    name = "agents"
    verbose_name = gettext_lazy("Agents: people, capacity and presence")
