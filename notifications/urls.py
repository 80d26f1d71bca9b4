from django.urls import path

from notifications.api import TranscriptEmailApi

urlpatterns = [
    path(
        "conversations/<int:conversation_id>/transcript/email/",
        TranscriptEmailApi.as_view(),
        name="conversation-transcript-email",
    ),
]
