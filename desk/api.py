"""REST for the agent's tools in the workbench: canned replies, a conversation's labels, notes on a customer,
search. Agents use their API token or the workbench's session (with its CSRF token for writes); a foreign
conversation or customer answers 404, like a missing one. Supervisors also keep the lines' canned replies here.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.models import Agent
from agents.selectors import agent_for_user, is_supervisor
from chat.api import AttachmentSerializer, HistoryConversationSerializer, IsAgent
from chat.payloads import attachment_payload, conversation_payload
from cs_platform.errors import ErrorCode
from cs_platform.rest import REFUSAL_STATUS, ErrorSerializer, Refused
from desk import selectors, services
from desk.errors import DeskError
from desk.models import CannedAttachment, CannedReply
from desk.payloads import label_payload, note_payload
from reports.selectors import business_line_by_key


class IsAgentOrSupervisor(BasePermission):
    message = gettext_lazy("Only agents and supervisors keep canned replies.")
    code = ErrorCode.NOT_AN_AGENT

    def has_permission(self, request: Request, view: APIView) -> bool:
        return agent_for_user(user=request.user) is not None or is_supervisor(user=request.user)


def _agent(request: Request) -> Agent:
    agent = agent_for_user(user=request.user)
    assert agent is not None  # IsAgent refused everyone else
    return agent


def _refusal(error: DeskError) -> APIException:
    """A service's refusal as REST answers it: a bad field is `400 invalid_request` with the field's message."""
    if error.code == ErrorCode.INVALID_FIELD:
        return ValidationError({error.field or "non_field_errors": [error.message]})
    if error.code == ErrorCode.NOT_FOUND:
        return NotFound(error.message)
    if error.code in REFUSAL_STATUS:
        return Refused(error.code, error.message)
    return PermissionDenied(error.message, error.code.value)


ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="`invalid_request`: a bad field (`errors` says which)."),
    401: OpenApiResponse(ErrorSerializer, description="`not_authenticated` or `authentication_failed`."),
    403: OpenApiResponse(ErrorSerializer, description="`not_an_agent`."),
    404: OpenApiResponse(ErrorSerializer, description="`not_found`: unknown, or not of your business lines."),
}


# Canned replies


class CannedAttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()


def canned_attachment_payload(attachment: CannedAttachment) -> dict[str, Any]:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "content_type": attachment.content_type,
        "size": attachment.size,
    }


class CannedReplySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    shortcut = serializers.CharField(help_text="Typed after / in the composer.")
    title = serializers.CharField()
    body = serializers.CharField(help_text="As written, with its variables ({customer.name}, ...).")
    business_line = serializers.CharField(allow_null=True, help_text="The line's key; null for a personal reply.")
    personal = serializers.BooleanField()
    editable = serializers.BooleanField(help_text="Whether you may change and delete it.")
    text = serializers.CharField(
        required=False, help_text="With `conversation_id`: the body with the variables filled for that conversation."
    )
    attachments = CannedAttachmentSerializer(many=True, help_text="Files sent with it (`POST .../use/`).")


def canned_reply_payload(reply: CannedReply, *, editable: bool, text: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": reply.pk,
        "shortcut": reply.shortcut,
        "title": reply.title,
        "body": reply.body,
        "business_line": reply.business_line.key if reply.business_line is not None else None,
        "personal": reply.agent_id is not None,
        "editable": editable,
        "attachments": [canned_attachment_payload(a) for a in reply.attachments.all()],
    }
    if text is not None:
        payload["text"] = text
    return payload


class CannedRepliesApi(APIView):
    """The replies an agent may insert: their own and their lines'; supervisors add the lines' ones here."""

    permission_classes = [IsAgentOrSupervisor]

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(
            required=False, allow_blank=True, max_length=100, help_text="Shortcut prefix, or text."
        )
        conversation_id = serializers.IntegerField(
            required=False, help_text="Only replies usable there (personal, and its line's), with `text` filled."
        )

    class CreateSerializer(serializers.Serializer):
        shortcut = serializers.CharField(max_length=40)
        title = serializers.CharField(max_length=200)
        body = serializers.CharField(max_length=8000)
        business_line = serializers.CharField(
            required=False, allow_null=True, help_text="A line's key (supervisors only); leave out for a personal one."
        )

    class ListSerializer(serializers.Serializer):
        results = CannedReplySerializer(many=True)

    @extend_schema(
        operation_id="canned_replies_list",
        tags=["workbench"],
        summary="Canned replies you may use",
        parameters=[FilterSerializer],
        responses={200: ListSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        conversation = None
        variables: dict[str, str] = {}
        conversation_id = filters.validated_data.get("conversation_id")
        if conversation_id is not None:
            agent = agent_for_user(user=request.user)
            conversation = (
                selectors.conversation_for_agent(agent_id=agent.pk, conversation_id=conversation_id) if agent else None
            )
            if agent is None or conversation is None:
                raise NotFound(gettext("No such conversation."))
            variables = selectors.canned_reply_variables(conversation=conversation, agent=agent)
        replies = selectors.canned_replies_search(
            user=request.user,
            query=filters.validated_data.get("q", ""),
            business_line_id=conversation.business_line_id if conversation else None,
        )
        return Response(
            {
                "results": [
                    canned_reply_payload(
                        reply,
                        editable=selectors.canned_reply_editable(user=request.user, reply=reply),
                        text=selectors.canned_reply_render(reply.body, variables) if conversation else None,
                    )
                    for reply in replies
                ]
            }
        )

    @extend_schema(
        operation_id="canned_reply_create",
        tags=["workbench"],
        summary="Add a canned reply",
        description="A personal reply of yours, or with `business_line` one of that line (supervisors only).",
        request=CreateSerializer,
        responses={201: CannedReplySerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        data = self.CreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        line = None
        key = data.validated_data.get("business_line")
        if key:
            line = business_line_by_key(key=key)
            if line is None:
                raise ValidationError({"business_line": [gettext("No business line has this key.")]})
        try:
            reply = services.canned_reply_create(
                user=request.user,
                shortcut=data.validated_data["shortcut"],
                title=data.validated_data["title"],
                body=data.validated_data["body"],
                business_line=line,
            )
        except DeskError as error:
            raise _refusal(error) from error
        return Response(canned_reply_payload(reply, editable=True), status=status.HTTP_201_CREATED)


class CannedReplyApi(APIView):
    permission_classes = [IsAgentOrSupervisor]

    class UpdateSerializer(serializers.Serializer):
        shortcut = serializers.CharField(max_length=40, required=False)
        title = serializers.CharField(max_length=200, required=False)
        body = serializers.CharField(max_length=8000, required=False)

    @extend_schema(
        operation_id="canned_reply_update",
        tags=["workbench"],
        summary="Change a canned reply",
        description="Your personal ones; a line's if you are a supervisor (`403 permission_denied` otherwise).",
        parameters=[OpenApiParameter("reply_id", int, OpenApiParameter.PATH)],
        request=UpdateSerializer,
        responses={200: CannedReplySerializer, **ERRORS},
    )
    def patch(self, request: Request, reply_id: int) -> Response:
        data = self.UpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            reply = services.canned_reply_update(user=request.user, reply_id=reply_id, **data.validated_data)
        except DeskError as error:
            raise _refusal(error) from error
        return Response(canned_reply_payload(reply, editable=True))

    @extend_schema(
        operation_id="canned_reply_delete",
        tags=["workbench"],
        summary="Delete a canned reply",
        parameters=[OpenApiParameter("reply_id", int, OpenApiParameter.PATH)],
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, reply_id: int) -> Response:
        try:
            services.canned_reply_delete(user=request.user, reply_id=reply_id)
        except DeskError as error:
            raise _refusal(error) from error
        return Response(status=status.HTTP_204_NO_CONTENT)


class CannedAttachmentsApi(APIView):
    """Files for a canned reply, added by whoever may change the reply."""

    permission_classes = [IsAgentOrSupervisor]
    parser_classes = [MultiPartParser]

    class UploadSerializer(serializers.Serializer):
        file = serializers.FileField(help_text="The file; its type is decided from its content.")

    @extend_schema(
        operation_id="canned_attachment_create",
        tags=["workbench"],
        summary="Add a file to a canned reply",
        description="Multipart, one `file` part: within ATTACHMENT_MAX_BYTES and ATTACHMENT_ALLOWED_TYPES (the "
        "type read from the content), at most 10 per reply. A business line's own limits apply when it is used.",
        parameters=[OpenApiParameter("reply_id", int, OpenApiParameter.PATH)],
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: CannedAttachmentSerializer,
            **ERRORS,
            413: OpenApiResponse(ErrorSerializer, description="`file_too_large`."),
            415: OpenApiResponse(ErrorSerializer, description="`file_type_not_allowed`."),
        },
    )
    def post(self, request: Request, reply_id: int) -> Response:
        upload = self.UploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            attachment = services.canned_attachment_add(
                user=request.user, reply_id=reply_id, upload=upload.validated_data["file"]
            )
        except DeskError as error:
            raise _refusal(error) from error
        return Response(canned_attachment_payload(attachment), status=status.HTTP_201_CREATED)


class CannedReplyUseApi(APIView):
    """Copies a canned reply's files into a conversation, to send with the reply's text."""

    permission_classes = [IsAgent]

    class UseSerializer(serializers.Serializer):
        conversation_id = serializers.IntegerField()

    class UsedSerializer(serializers.Serializer):
        text = serializers.CharField(help_text="The body with its variables filled for the conversation.")
        attachments = AttachmentSerializer(many=True, help_text="New uploads of yours: send their ids.")

    @extend_schema(
        operation_id="canned_reply_use",
        tags=["workbench"],
        summary="Use a canned reply in a conversation",
        description="Each file of the reply becomes a new attachment of the conversation, uploaded by you, as if "
        "you had chosen it (the conversation must be yours and active; its line's limits apply): send them with "
        "`message.send` `attachment_ids`. All or nothing.",
        parameters=[OpenApiParameter("reply_id", int, OpenApiParameter.PATH)],
        request=UseSerializer,
        responses={
            201: UsedSerializer,
            **ERRORS,
            403: OpenApiResponse(ErrorSerializer, description="`not_an_agent`, or `not_assigned`."),
            409: OpenApiResponse(ErrorSerializer, description="`conversation_closed`."),
            413: OpenApiResponse(ErrorSerializer, description="`file_too_large` for the line."),
            415: OpenApiResponse(ErrorSerializer, description="`file_type_not_allowed` by the line."),
        },
    )
    def post(self, request: Request, reply_id: int) -> Response:
        data = self.UseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        conversation_id = data.validated_data["conversation_id"]
        try:
            reply, copies = services.canned_reply_use(
                user=request.user, reply_id=reply_id, conversation_id=conversation_id
            )
        except DeskError as error:
            raise _refusal(error) from error
        agent = _agent(request)
        conversation = selectors.conversation_for_agent(agent_id=agent.pk, conversation_id=conversation_id)
        assert conversation is not None  # the service found it
        variables = selectors.canned_reply_variables(conversation=conversation, agent=agent)
        return Response(
            {
                "text": selectors.canned_reply_render(reply.body, variables),
                "attachments": [attachment_payload(copy) for copy in copies],
            },
            status=status.HTTP_201_CREATED,
        )


# Labels


class LabelSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class ConversationLabelsApi(APIView):
    """A conversation's labels, and those its business line offers (kept by supervisors in the admin)."""

    permission_classes = [IsAgent]

    class LabelsSerializer(serializers.Serializer):
        labels = LabelSerializer(many=True, help_text="Set on the conversation, by name.")
        available = LabelSerializer(many=True, help_text="Every label of its business line, by name.")

    class SetSerializer(serializers.Serializer):
        label_ids = serializers.ListField(child=serializers.IntegerField(), max_length=50)

    def _answer(self, conversation_id: int, business_line_id: int) -> Response:
        return Response(
            {
                "labels": [label_payload(x) for x in selectors.labels_of_conversation(conversation_id=conversation_id)],
                "available": [label_payload(x) for x in selectors.labels_of_line(business_line_id=business_line_id)],
            }
        )

    @extend_schema(
        operation_id="conversation_labels_get",
        tags=["workbench"],
        summary="A conversation's labels",
        parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)],
        responses={200: LabelsSerializer, **ERRORS},
    )
    def get(self, request: Request, conversation_id: int) -> Response:
        conversation = selectors.conversation_for_agent(agent_id=_agent(request).pk, conversation_id=conversation_id)
        if conversation is None:
            raise NotFound(gettext("No such conversation."))
        return self._answer(conversation.pk, conversation.business_line_id)

    @extend_schema(
        operation_id="conversation_labels_set",
        tags=["workbench"],
        summary="Set a conversation's labels",
        description="The labels become exactly `label_ids` (an empty list removes them all), each of the "
        "conversation's business line. Any agent of the line, on an open or an ended conversation.",
        parameters=[OpenApiParameter("conversation_id", int, OpenApiParameter.PATH)],
        request=SetSerializer,
        responses={200: LabelsSerializer, **ERRORS},
    )
    def put(self, request: Request, conversation_id: int) -> Response:
        data = self.SetSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        agent = _agent(request)
        try:
            services.conversation_labels_set(
                agent_id=agent.pk, conversation_id=conversation_id, label_ids=data.validated_data["label_ids"]
            )
        except DeskError as error:
            raise _refusal(error) from error
        conversation = selectors.conversation_for_agent(agent_id=agent.pk, conversation_id=conversation_id)
        assert conversation is not None  # the service found it
        return self._answer(conversation.pk, conversation.business_line_id)


# Customer notes


class NoteSerializer(serializers.Serializer):
    class NoteAuthorSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        name = serializers.CharField()

    id = serializers.IntegerField()
    body = serializers.CharField()
    author = NoteAuthorSerializer()
    created_at = serializers.DateTimeField()


class CustomerNotesApi(APIView):
    """Notes about a customer, for every agent who may see them; never shown to the customer."""

    permission_classes = [IsAgent]

    class NotesSerializer(serializers.Serializer):
        notes = NoteSerializer(many=True, help_text="Newest first.")

    class AddSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=4000)

    @extend_schema(
        operation_id="customer_notes_list",
        tags=["workbench"],
        summary="Notes about a customer",
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH)],
        responses={200: NotesSerializer, **ERRORS},
    )
    def get(self, request: Request, customer_id: int) -> Response:
        notes = selectors.customer_notes(agent_id=_agent(request).pk, customer_id=customer_id)
        if notes is None:
            raise NotFound(gettext("No such customer."))
        return Response({"notes": [note_payload(note) for note in notes]})

    @extend_schema(
        operation_id="customer_note_create",
        tags=["workbench"],
        summary="Add a note about a customer",
        parameters=[OpenApiParameter("customer_id", int, OpenApiParameter.PATH)],
        request=AddSerializer,
        responses={201: NoteSerializer, **ERRORS},
    )
    def post(self, request: Request, customer_id: int) -> Response:
        data = self.AddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            note = services.customer_note_add(
                agent_id=_agent(request).pk, customer_id=customer_id, body=data.validated_data["body"]
            )
        except DeskError as error:
            raise _refusal(error) from error
        return Response(note_payload(note), status=status.HTTP_201_CREATED)


class CustomerNoteApi(APIView):
    """One note about a customer: its author changes or removes it."""

    permission_classes = [IsAgent]

    class NoteUpdateSerializer(serializers.Serializer):
        body = serializers.CharField(max_length=4000)

    @extend_schema(
        operation_id="customer_note_update",
        tags=["workbench"],
        summary="Change a note about a customer",
        description="Your own notes only (`403 permission_denied` for a colleague's).",
        parameters=[
            OpenApiParameter("customer_id", int, OpenApiParameter.PATH),
            OpenApiParameter("note_id", int, OpenApiParameter.PATH),
        ],
        request=NoteUpdateSerializer,
        responses={200: NoteSerializer, **ERRORS},
    )
    def patch(self, request: Request, customer_id: int, note_id: int) -> Response:
        data = self.NoteUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            note = services.customer_note_update(
                agent_id=_agent(request).pk, customer_id=customer_id, note_id=note_id, body=data.validated_data["body"]
            )
        except DeskError as error:
            raise _refusal(error) from error
        return Response(note_payload(note))

    @extend_schema(
        operation_id="customer_note_delete",
        tags=["workbench"],
        summary="Remove a note about a customer",
        description="Your own notes only (`403 permission_denied` for a colleague's).",
        parameters=[
            OpenApiParameter("customer_id", int, OpenApiParameter.PATH),
            OpenApiParameter("note_id", int, OpenApiParameter.PATH),
        ],
        responses={204: None, **ERRORS},
    )
    def delete(self, request: Request, customer_id: int, note_id: int) -> Response:
        try:
            services.customer_note_delete(agent_id=_agent(request).pk, customer_id=customer_id, note_id=note_id)
        except DeskError as error:
            raise _refusal(error) from error
        return Response(status=status.HTTP_204_NO_CONTENT)


# Search


class SearchHitSerializer(serializers.Serializer):
    conversation = HistoryConversationSerializer()
    snippet = serializers.CharField(
        allow_blank=True, help_text="Its first matching message; empty when only the customer matched."
    )


class SearchApi(APIView):
    """Past and present conversations of your business lines, by customer or by what was written."""

    permission_classes = [IsAgent]

    class QuerySerializer(serializers.Serializer):
        q = serializers.CharField(
            max_length=200, help_text="Words (prefixes), Chinese or other CJK text, a name, an email, an external id."
        )

    class ResultsSerializer(serializers.Serializer):
        results = SearchHitSerializer(many=True, help_text="Newest first, at most 50.")

    @extend_schema(
        operation_id="conversations_search",
        tags=["workbench"],
        summary="Search conversations",
        description="Conversations of your business lines whose customer's name, email or external id, or any "
        "message (internal notes included), matches every term; newest first, at most 50. Read one with "
        "`GET /api/conversations/{id}/messages/`.",
        parameters=[QuerySerializer],
        responses={200: ResultsSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        data = self.QuerySerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        query = selectors.search_query_parse(data.validated_data["q"])
        if query is None:
            raise ValidationError({"q": [gettext("Nothing to search for.")]})
        hits = selectors.conversations_search(agent_id=_agent(request).pk, query=query)
        return Response(
            {"results": [{"conversation": conversation_payload(h.conversation), "snippet": h.snippet} for h in hits]}
        )
