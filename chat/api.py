"""REST for the live chat: the history for agents (a customer's conversations on every channel, a conversation's
messages by `seq`) and attachments (upload for whoever may write, download through a signed link or a token).

History is scoped to the agent's business lines; anything outside them answers 404, exactly like an id that does
not exist.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated, NotFound, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from agents.selectors import agent_for_api_token, agent_for_user
from chat import files, images
from chat.errors import ChatError
from chat.models import CloseReason, ConversationStatus, Sender
from chat.payloads import attachment_payload, conversation_payload, message_payload
from chat.permissions import Participant
from chat.selectors import (
    CLOSED_LIST_LIMIT,
    agent_closed_conversations,
    attachment_for_download,
    attachment_limits_for,
    history_customer_conversations,
    history_customer_for_agent,
    messages_after,
)
from chat.services import attachment_upload
from cs_platform.errors import ErrorCode
from cs_platform.rate_limits import rate_limit_hit
from cs_platform.rest import RATE_LIMITED_RESPONSE, ErrorSerializer, RateLimited, Refused
from customers.models import Channel
from customers.selectors import customer_from_token
from routing.selectors import queue_position, transfer_targets


class IsAgent(BasePermission):
    """Agents only: supervisors and admins read transcripts in the admin, customers through their socket."""

    message = gettext_lazy("Only agents may read the history API.")
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


class AttachmentSerializer(serializers.Serializer):
    """The protocol's attachment object (`chat.payloads.attachment_payload`)."""

    id = serializers.IntegerField()
    name = serializers.CharField(help_text="The uploaded file's name, cleaned of paths and control characters.")
    content_type = serializers.CharField(help_text="Decided from the file's content, never its name.")
    size = serializers.IntegerField(help_text="Bytes.")
    url = serializers.CharField(
        help_text="Download path on this server, signed; valid for ATTACHMENT_LINK_MAX_AGE seconds (default a day)."
    )
    width = serializers.IntegerField(required=False, help_text="Images only: pixels, upright.")
    height = serializers.IntegerField(required=False, help_text="Images only: pixels, upright.")
    thumbnail_url = serializers.CharField(
        required=False, help_text="Images only: a WebP of at most 320x320, signed like `url`."
    )


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
    params = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="System messages: who and where (agent, by, line), to write the event in the reader's language.",
    )
    agent_id = serializers.IntegerField(required=False, help_text="Agent messages: who wrote it.")
    internal = serializers.BooleanField(required=False, help_text="Present (true) on internal notes.")
    attachment = HistoryAttachmentSerializer(required=False, help_text="Legacy: a file stored on the message.")
    attachments = AttachmentSerializer(many=True, help_text="The files sent with it; empty when none.")


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
            attributes = serializers.DictField(help_text="Set by the site: `CSWidget.setAttributes({...})`.")
            # DRF's metaclass takes declared fields out of the class, so this never shadows `Field.context`.
            context = serializers.DictField(  # type: ignore[assignment]
                help_text="Where the customer last was, as their page said in `customer.context`: `page_url`, "
                "`page_title`, `referrer`, `language`, `time_zone`, and `user_agent` (from the socket's "
                "handshake), `updated_at`. Empty until their page sends one."
            )
            conversation_count = serializers.IntegerField(
                help_text="All their conversations, on every business line (the list below holds only yours)."
            )
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
            raise NotFound(gettext("No such customer."))
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


class AgentClosedConversationsApi(APIView):
    """The workbench's "closed today": what the agent closed (or saw closed) since the start of their day."""

    permission_classes = [IsAgent]

    class ClosedFilterSerializer(serializers.Serializer):
        since = serializers.DateTimeField(
            help_text="Closed at or after this time: the workbench sends the start of the agent's day."
        )

    class ClosedOutputSerializer(serializers.Serializer):
        conversations = HistoryConversationSerializer(
            many=True, help_text=f"Newest closed first, at most {CLOSED_LIST_LIMIT}."
        )

    @extend_schema(
        operation_id="agent_closed_conversations_list",
        tags=["history"],
        summary="The conversations I closed since a time",
        description="Conversations assigned to the requesting agent when they closed (by the agent, the customer "
        "or the idle timeout), closed at or after `since`, newest first. Open each with the messages endpoint.",
        parameters=[ClosedFilterSerializer],
        responses={
            200: ClosedOutputSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`invalid_request`: a missing or bad `since`."),
            **{code: HISTORY_ERRORS[code] for code in (401, 403)},
        },
    )
    def get(self, request: Request) -> Response:
        filters = self.ClosedFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        agent = _requesting_agent(request)
        conversations = agent_closed_conversations(agent_id=agent.pk, since=filters.validated_data["since"])
        return Response({"conversations": [conversation_payload(c) for c in conversations]})


class TransferTargetsApi(APIView):
    """The workbench's transfer picker: who on the line could take the conversation, and the other lines."""

    permission_classes = [IsAgent]

    class TransferTargetsOutputSerializer(serializers.Serializer):
        class TransferAgentSerializer(serializers.Serializer):
            id = serializers.IntegerField(help_text="`to_agent_id` for `conversation.transfer`.")
            name = serializers.CharField()
            presence = serializers.ChoiceField(
                choices=["online", "away", "offline"], help_text="`offline` without a live socket, whatever they chose."
            )
            load = serializers.IntegerField(help_text="Their active conversations.")
            capacity = serializers.IntegerField()
            available = serializers.BooleanField(help_text="Online with room: a transfer to them can succeed now.")

        class TransferLineSerializer(serializers.Serializer):
            key = serializers.CharField(help_text="`to_business_line` for `conversation.transfer`.")
            name = serializers.CharField()
            waiting = serializers.IntegerField(help_text="Conversations waiting in its queue now.")
            agents_online = serializers.IntegerField(help_text="Its agents online with a live socket.")

        conversation_id = serializers.IntegerField()
        agents = TransferAgentSerializer(many=True, help_text="The other agents of its business line, by name.")
        business_lines = TransferLineSerializer(many=True, help_text="Every other business line, by name.")

    @extend_schema(
        operation_id="conversation_transfer_targets",
        tags=["history"],
        summary="Where a conversation can be transferred",
        description="For a conversation of your business lines: the other agents of its line with their presence, "
        "load and capacity, and every other business line with its queue length. Read it, then send "
        "`conversation.transfer` on the socket.",
        parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)],
        responses={200: TransferTargetsOutputSerializer, **HISTORY_ERRORS},
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        agent = _requesting_agent(request)
        try:
            targets = transfer_targets(agent_id=agent.pk, conversation_id=conversation_id)
        except ChatError as exc:
            raise NotFound(exc.message) from exc
        return Response(targets)


def _request_token(request: Request) -> str | None:
    """`Authorization: Token T` or `?token=T`, as every other endpoint of the product reads it."""
    header = get_authorization_header(request).split()
    if header and header[0].lower() == b"token" and len(header) == 2:
        return header[1].decode(errors="replace")
    return request.query_params.get("token") or None


def _token_participant(token: str) -> Participant:
    """The customer (widget token) or agent (API token) a token names; 401 for any other."""
    customer = customer_from_token(token=token)
    if customer is not None:
        return Participant(kind="customer", id=customer.pk)
    agent = agent_for_api_token(token=token)
    if agent is not None:
        return Participant(kind="agent", id=agent.pk)
    raise AuthenticationFailed("Invalid or expired token.")


# Room in a request for the multipart framing around the file.
_MULTIPART_OVERHEAD = 64 * 1024


class AttachmentUploadApi(APIView):
    """Customers (widget token) and agents (API token, or the workbench's session with its CSRF token) upload
    here what they then send with `message.send`."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser]

    def get_authenticate_header(self, request: Request) -> str:
        """`WWW-Authenticate: Token`, so a missing or bad token is 401 (DRF answers 403 without the header)."""
        return "Token"

    class AttachmentUploadInputSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="The file; its type is decided from its content.")

    @extend_schema(
        operation_id="conversation_attachment_create",
        tags=["attachments"],
        summary="Upload a file to send in a conversation",
        description="For whoever may send a message in the conversation: its customer while it is open, its "
        "assigned agent while it is active. Authorise with `Authorization: Token T` or `?token=T`, T being a "
        "customer token (`POST /api/widget/session/`) or an agent's API token (`POST /api/auth/token/`); the "
        "workbench sends the agent's session cookie with `X-CSRFToken`. Send "
        "the returned `id` in `message.send`'s `attachment_ids`. A refused file leaves nothing stored.",
        parameters=[
            OpenApiParameter("conversation_id", int, OpenApiParameter.PATH),
            OpenApiParameter(
                "token", str, OpenApiParameter.QUERY, required=False, description="Instead of the header."
            ),
        ],
        request={"multipart/form-data": AttachmentUploadInputSerializer},
        responses={
            201: AttachmentSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`invalid_request`: no `file` part."),
            401: OpenApiResponse(ErrorSerializer, description="`not_authenticated` or `authentication_failed`."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="`not_assigned`: an agent not assigned to it; `not_an_agent`: a session of another "
                "user; `permission_denied`: a session without its CSRF token.",
            ),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: unknown, or someone else's."),
            409: OpenApiResponse(ErrorSerializer, description="`conversation_closed`."),
            413: OpenApiResponse(ErrorSerializer, description="`file_too_large`: over the business line's limit."),
            415: OpenApiResponse(ErrorSerializer, description="`file_type_not_allowed` by the business line."),
            422: OpenApiResponse(ErrorSerializer, description="`file_rejected` by the virus scanner."),
            429: RATE_LIMITED_RESPONSE,
        },
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        participant = self._uploader(request)
        # Counted per uploader before the body is read: a flood of uploads costs one Redis round trip each.
        wait = rate_limit_hit(
            scope="attachment_upload",
            keys=[f"{participant.kind}:{participant.id}"],
            rate=settings.ATTACHMENT_UPLOAD_RATE,
        )
        if wait is not None:
            raise RateLimited(wait, gettext("Too many files were sent; wait a moment."))
        try:
            self._refuse_oversized_body(request, participant, conversation_id)
            upload = self.AttachmentUploadInputSerializer(data=request.data)
            upload.is_valid(raise_exception=True)
            attachment = attachment_upload(
                participant=participant, conversation_id=conversation_id, upload=upload.validated_data["file"]
            )
        except ChatError as refusal:
            raise Refused(refusal.code, refusal.message) from refusal
        return Response(attachment_payload(attachment), status=status.HTTP_201_CREATED)

    @staticmethod
    def _uploader(request: Request) -> Participant:
        """The token's customer or agent; else the signed-in agent of a session (the workbench)."""
        token = _request_token(request)
        if token:
            return _token_participant(token)
        if not request.user.is_authenticated:
            raise NotAuthenticated("Send a customer or agent token.")
        agent = agent_for_user(user=request.user)
        if agent is None:
            raise PermissionDenied(IsAgent.message, ErrorCode.NOT_AN_AGENT.value)
        return Participant(kind="agent", id=agent.pk)

    @staticmethod
    def _refuse_oversized_body(request: Request, participant: Participant, conversation_id: int) -> None:
        """A body far over the limit is refused before it is read (the service checks the file's exact size)."""
        limits = attachment_limits_for(participant=participant, conversation_id=conversation_id)
        length = request.META.get("CONTENT_LENGTH") or ""
        if length.isdigit() and int(length) > limits.max_bytes + _MULTIPART_OVERHEAD:
            raise ChatError(
                ErrorCode.FILE_TOO_LARGE,
                gettext("The file is larger than %(limit)s bytes") % {"limit": limits.max_bytes},
            )


class AttachmentDownloadApi(APIView):
    """The file behind an attachment's `url`: never a page of this site, whatever was uploaded."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    # The same rights and headers serve an image's thumbnail (`thumbnail_url`), a WebP the server made.
    thumbnail = False

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"

    @extend_schema(
        operation_id="attachment_download",
        tags=["attachments"],
        summary="Download an attachment",
        description="With the signed `sig` of the attachment's `url` (valid ATTACHMENT_LINK_MAX_AGE seconds), or "
        "with the token of a participant: the conversation's customer or an agent of its business line. A "
        "token is checked even beside a valid `sig`. Always `X-Content-Type-Options: nosniff`; "
        "`Content-Disposition: inline` for PNG, JPEG, GIF and WebP, `attachment` for everything else.",
        parameters=[
            OpenApiParameter("attachment_id", int, OpenApiParameter.PATH),
            OpenApiParameter("sig", str, OpenApiParameter.QUERY, required=False, description="From `url`."),
            OpenApiParameter("token", str, OpenApiParameter.QUERY, required=False, description="Instead of `sig`."),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            401: OpenApiResponse(ErrorSerializer, description="`authentication_failed`: an unknown token."),
            403: OpenApiResponse(ErrorSerializer, description="`forbidden`: no token, and no valid `sig`."),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: unknown, or not yours to see."),
        },
    )
    def get(self, request: Request, attachment_id: int) -> FileResponse:
        token = _request_token(request)
        if token:
            participant: Participant | None = _token_participant(token)
        elif files.link_signature_valid(attachment_id, request.query_params.get("sig", "")):
            participant = None
        else:
            raise Refused(ErrorCode.FORBIDDEN, gettext("The link is invalid or expired: sync for a new one."))
        attachment = attachment_for_download(attachment_id=attachment_id, participant=participant)
        if attachment is None or (self.thumbnail and not attachment.thumbnail.name):
            raise NotFound(gettext("No such attachment."))
        if self.thumbnail:
            response = FileResponse(
                attachment.thumbnail.open("rb"), filename=attachment.name, content_type=images.THUMBNAIL_CONTENT_TYPE
            )
        else:
            inline = attachment.content_type in files.INLINE_TYPES
            response = FileResponse(
                attachment.file.open("rb"),
                as_attachment=not inline,
                filename=attachment.name,
                content_type=attachment.content_type if inline else _download_type(attachment.content_type),
            )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response["Cache-Control"] = "private, max-age=3600"
        return response


class AttachmentThumbnailApi(AttachmentDownloadApi):
    """An image's thumbnail (`thumbnail_url`): a WebP of at most 320x320 the server made, under the same rights."""

    thumbnail = True

    @extend_schema(
        operation_id="attachment_thumbnail",
        tags=["attachments"],
        summary="An image attachment's thumbnail",
        description="A WebP of at most 320x320 pixels, upright, made by the server; the same `sig` or token as "
        "the image's `url`, the same headers (`inline`). 404 for attachments that are not images.",
        parameters=[
            OpenApiParameter("attachment_id", int, OpenApiParameter.PATH),
            OpenApiParameter("sig", str, OpenApiParameter.QUERY, required=False, description="From `thumbnail_url`."),
            OpenApiParameter("token", str, OpenApiParameter.QUERY, required=False, description="Instead of `sig`."),
        ],
        responses={
            (200, "image/webp"): OpenApiTypes.BINARY,
            401: OpenApiResponse(ErrorSerializer, description="`authentication_failed`: an unknown token."),
            403: OpenApiResponse(ErrorSerializer, description="`forbidden`: no token, and no valid `sig`."),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: unknown, not an image, or not yours."),
        },
    )
    def get(self, request: Request, attachment_id: int) -> FileResponse:
        return super().get(request, attachment_id)


def _download_type(content_type: str) -> str:
    """Text goes out as UTF-8 text; every other download as the type its content showed."""
    return f"{content_type}; charset=utf-8" if content_type.startswith("text/") else content_type
