"""REST history for agents: a customer's conversations on every channel, and a conversation's messages by `seq`.

Scoped to the agent's business lines; anything outside them answers 404, exactly like an id that does not exist.
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from agents.selectors import agent_for_user
from chat.errors import ChatError
from chat.models import CloseReason, ConversationStatus, Sender
from chat.payloads import conversation_payload, message_payload
from chat.permissions import Participant
from chat.selectors import history_customer_conversations, history_customer_for_agent, messages_after
from cs_platform.errors import ErrorCode
from cs_platform.rest import ErrorSerializer
from customers.models import Channel
from routing.selectors import queue_position


class IsAgent(BasePermission):
    """Agents only: supervisors and admins read transcripts in the admin, customers through their socket."""

    message = "Only agents may read the history API."
    code = ErrorCode.NOT_AN_AGENT

    def has_permission(self, request: Request, view: APIView) -> bool:
        return agent_for_user(user=request.user) is not None


def _requesting_agent(request: Request) -> Agent:
    """The agent behind a request that `IsAgent` let through."""
    agent = agent_for_user(user=request.user)
    assert agent is not None  # IsAgent refused everyone else
    return agent


HISTORY_ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="`not_authenticated` or `authentication_failed`."),
    403: OpenApiResponse(ErrorSerializer, description="`not_an_agent`."),
    404: OpenApiResponse(ErrorSerializer, description="`not_found`: unknown, or not of your business lines."),
}


class HistoryConversationSerializer(serializers.Serializer):
    """The protocol's conversation object (`chat.payloads.conversation_payload`)."""

    class HistoryCustomerRefSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField(allow_blank=True)
        email = serializers.CharField(allow_blank=True)

    class HistoryAgentRefSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()

    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=ConversationStatus.choices)
    channel = serializers.ChoiceField(choices=Channel.choices)
    business_line = serializers.CharField(help_text="The business line's widget key.")
    customer = HistoryCustomerRefSerializer()
    agent = HistoryAgentRefSerializer(allow_null=True)
    queue_position = serializers.IntegerField(allow_null=True)
    last_seq = serializers.IntegerField()
    started_at = serializers.DateTimeField()
    closed_at = serializers.DateTimeField(allow_null=True)
    close_reason = serializers.ChoiceField(choices=CloseReason.choices, allow_null=True)


class HistoryMessageSerializer(serializers.Serializer):
    """The protocol's message object (`chat.payloads.message_payload`)."""

    class HistoryAttachmentSerializer(serializers.Serializer):
        url = serializers.CharField()
        name = serializers.CharField()

    id = serializers.IntegerField()
    conversation_id = serializers.IntegerField()
    seq = serializers.IntegerField(min_value=1)
    sender = serializers.ChoiceField(choices=Sender.choices)
    body = serializers.CharField(allow_blank=True)
    client_msg_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    event = serializers.CharField(required=False, help_text="System messages: what happened (assigned, closed, ...).")
    agent_id = serializers.IntegerField(required=False, help_text="Agent messages: who wrote it.")
    internal = serializers.BooleanField(required=False, help_text="Present (true) on internal notes.")
    attachment = HistoryAttachmentSerializer(required=False)


class CustomerConversationsApi(APIView):
    """The whole history the workbench shows beside a chat: who the customer is and every conversation."""

    permission_classes = [IsAgent]

    class CustomerConversationsOutputSerializer(serializers.Serializer):
        class HistoryCustomerSerializer(serializers.Serializer):
            id = serializers.IntegerField()
            name = serializers.CharField(allow_blank=True)
            email = serializers.CharField(allow_blank=True)
            external_id = serializers.CharField(allow_null=True)
            first_channel = serializers.CharField(help_text="The channel of their first session: web, h5 or app.")
            attributes = serializers.DictField()
            first_seen_at = serializers.DateTimeField()
            last_seen_at = serializers.DateTimeField()

        customer = HistoryCustomerSerializer()
        conversations = HistoryConversationSerializer(many=True, help_text="Newest first.")

    @extend_schema(
        operation_id="customer_conversations_list",
        tags=["history"],
        summary="A customer's conversations",
        description="Every conversation of the customer, on every channel, newest first.",
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH)],
        responses={200: CustomerConversationsOutputSerializer, **HISTORY_ERRORS},
    )
    def get(self, request: Request, customer_id: int) -> Response:
        agent = _requesting_agent(request)
        customer = history_customer_for_agent(agent_id=agent.pk, customer_id=customer_id)
        if customer is None:
            raise NotFound("No such customer.")
        conversations = history_customer_conversations(agent_id=agent.pk, customer_id=customer.pk)
        customer_data = self.CustomerConversationsOutputSerializer.HistoryCustomerSerializer(customer).data
        return Response(
            {
                "customer": customer_data,
                "conversations": [conversation_payload(c, queue_position=queue_position(c)) for c in conversations],
            }
        )


class ConversationMessagesApi(APIView):
    """A transcript page by page: `seq` is gap-free, so `after_seq` is an exact cursor."""

    permission_classes = [IsAgent]

    class MessagesFilterSerializer(serializers.Serializer):
        after_seq = serializers.IntegerField(
            min_value=0, default=0, help_text="Only messages with a higher `seq` (the last one you have)."
        )
        limit = serializers.IntegerField(
            min_value=1, max_value=settings.CHAT_SYNC_LIMIT, default=100, help_text="Most messages in one page."
        )

    class ConversationMessagesOutputSerializer(serializers.Serializer):
        conversation_id = serializers.IntegerField()
        messages = HistoryMessageSerializer(many=True, help_text="In `seq` order, internal notes included.")
        has_more = serializers.BooleanField(help_text="More follow: ask again with `after_seq=next_after_seq`.")
        next_after_seq = serializers.IntegerField(help_text="The `seq` of the last message returned.")

    @extend_schema(
        operation_id="conversation_messages_list",
        tags=["history"],
        summary="A conversation's messages, by seq",
        description="Messages with `seq > after_seq`, in order, at most `limit` of them (internal notes included). "
        "Page on with `after_seq=next_after_seq` while `has_more`.",
        parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH), MessagesFilterSerializer],
        responses={
            200: ConversationMessagesOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`invalid_request`: a bad `after_seq` or `limit`."),
            **HISTORY_ERRORS,
        },
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        filters = self.MessagesFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        after_seq = filters.validated_data["after_seq"]
        agent = _requesting_agent(request)
        try:
            messages, has_more = messages_after(
                participant=Participant(kind="agent", id=agent.pk),
                conversation_id=conversation_id,
                after_seq=after_seq,
                limit=filters.validated_data["limit"],
            )
        except ChatError as exc:
            raise NotFound(exc.message) from exc
        return Response(
            {
                "conversation_id": conversation_id,
                "messages": [message_payload(m) for m in messages],
                "has_more": has_more,
                "next_after_seq": messages[-1].seq if messages else after_seq,
            }
        )
