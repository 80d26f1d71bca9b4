from django.urls import path

from chat.api import (
    AgentClosedConversationsApi,
    AttachmentDownloadApi,
    AttachmentThumbnailApi,
    AttachmentUploadApi,
    ConversationMessagesApi,
    CustomerConversationsApi,
    TransferTargetsApi,
)

urlpatterns = [
    path(
        "customers/<int:customer_id>/conversations/",
        CustomerConversationsApi.as_view(),
        name="customer-conversations",
    ),
    path("conversations/closed/", AgentClosedConversationsApi.as_view(), name="agent-closed-conversations"),
    path(
        "conversations/<int:conversation_id>/messages/",
        ConversationMessagesApi.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<int:conversation_id>/transfer-targets/",
        TransferTargetsApi.as_view(),
        name="conversation-transfer-targets",
    ),
    path(
        "conversations/<int:conversation_id>/attachments/",
        AttachmentUploadApi.as_view(),
        name="conversation-attachments",
    ),
    path("attachments/<int:attachment_id>/download/", AttachmentDownloadApi.as_view(), name="attachment-download"),
    path(
        "attachments/<int:attachment_id>/thumbnail/",
        AttachmentThumbnailApi.as_view(),
        name="attachment-thumbnail",
    ),
]
