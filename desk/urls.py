from django.urls import path

from desk.api import CannedRepliesApi, CannedReplyApi, ConversationLabelsApi, CustomerNotesApi, SearchApi

urlpatterns = [
    path("canned-replies/", CannedRepliesApi.as_view(), name="canned-replies"),
    path("canned-replies/<int:reply_id>/", CannedReplyApi.as_view(), name="canned-reply"),
    path("conversations/<int:conversation_id>/labels/", ConversationLabelsApi.as_view(), name="conversation-labels"),
    path("customers/<int:customer_id>/notes/", CustomerNotesApi.as_view(), name="customer-notes"),
    path("search/", SearchApi.as_view(), name="conversations-search"),
]
