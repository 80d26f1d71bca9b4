"""Pages served to people: the demo company site that hosts the widget, and the customers' chat pages."""

from django.urls import path

from customers.pages import chat_page, demo_site, h5_page

urlpatterns = [
    path("", demo_site, name="demo-site"),
    path("chat/", chat_page, name="chat-page"),
    path("h5/", h5_page, name="h5-page"),
]
