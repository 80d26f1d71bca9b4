from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = gettext_lazy("Notifications: emails to customers and teams")

    def ready(self) -> None:
        """Listen to what chat announces after a commit: notifications depends on chat, chat never on it."""
        from chat import hooks
        from notifications.services import on_transcript_requested
        from notifications.tasks import message_left_request, missed_answered_request, transcript_requested

        hooks.on_message_left(message_left_request)
        hooks.on_missed_answered(missed_answered_request)
        on_transcript_requested(transcript_requested)
