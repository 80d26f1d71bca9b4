"""Pages served to people: the demo company site that hosts the widget."""

from django.urls import path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="demo/site.html"), name="demo-site"),
]
