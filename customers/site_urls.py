"""Pages served to people: the demo company site that hosts the widget, and the customers' chat pages."""

from django.urls import path
from django.views.generic import TemplateView

from customers.pages import chat_page, h5_page

urlpatterns = [
    path("", TemplateView.as_view(template_name="demo/site.html"), name="demo-site"),
    path("chat/", chat_page, name="chat-page"),
    path("h5/", h5_page, name="h5-page"),
]
