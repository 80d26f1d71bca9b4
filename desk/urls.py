from django.urls import path

from desk.api import (
    CannedAttachmentsApi,
    CannedRepliesApi,
    CannedReplyApi,
    CannedReplyUseApi,
    ConversationLabelsApi,
    CustomerNoteApi,
    CustomerNotesApi,
    SearchApi,
)

urlpatterns = [
    path("canned-replies/", CannedRepliesApi.as_view(), name="canned-replies"),
    path("canned-replies/<int:reply_id>/", CannedReplyApi.as_view(), name="canned-reply"),
    path("canned-replies/<int:reply_id>/attachments/", CannedAttachmentsApi.as_view(), name="canned-reply-attachments"),
    path("canned-replies/<int:reply_id>/use/", CannedReplyUseApi.as_view(), name="canned-reply-use"),
    path("conversations/<int:conversation_id>/labels/", ConversationLabelsApi.as_view(), name="conversation-labels"),
    path("customers/<int:customer_id>/notes/", CustomerNotesApi.as_view(), name="customer-notes"),
    path("customers/<int:customer_id>/notes/<int:note_id>/", CustomerNoteApi.as_view(), name="customer-note"),
    path("search/", SearchApi.as_view(), name="conversations-search"),
]
