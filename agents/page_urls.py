"""Pages served to agents: the workbench (mounted at /workbench/)."""

from django.urls import path

from agents.pages import workbench

urlpatterns = [
    path("", workbench, name="workbench"),
]
