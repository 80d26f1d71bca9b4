from django.urls import path

from customers.api import WidgetSessionApi

urlpatterns = [
    path("widget/session/", WidgetSessionApi.as_view(), name="widget-session"),
]
