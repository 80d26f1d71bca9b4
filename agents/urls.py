from django.urls import path

from agents.api import AuthTokenApi

urlpatterns = [
    path("auth/token/", AuthTokenApi.as_view(), name="auth-token"),
]
