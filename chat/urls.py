from django.urls import path

from chat.api import ConversationMessagesApi, CustomerConversationsApi

urlpatterns = [
    path(
        "customers/<int:customer_id>/conversations/",
        CustomerConversationsApi.as_view(),
        name="customer-conversations",
    ),
    path(
        "conversations/<int:conversation_id>/messages/",
        ConversationMessagesApi.as_view(),
        name="conversation-messages",
    ),
]
