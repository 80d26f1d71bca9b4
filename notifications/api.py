"""REST for the customer's emails: the transcript of an ended conversation, sent to them on request."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.errors import ChatError
from cs_platform.rate_limits import rate_limit_hit
from cs_platform.rest import RATE_LIMITED_RESPONSE, ErrorSerializer, RateLimited, Refused
from customers.models import Customer
from customers.selectors import customer_from_token
from notifications.services import transcript_email_address, transcript_email_request


def _customer(request: Request) -> Customer:
    """The customer of a widget token (`Authorization: Token T` or `?token=T`); 401 for anything else."""
    header = get_authorization_header(request).split()
    token = header[1].decode(errors="replace") if len(header) == 2 and header[0].lower() == b"token" else None
    token = token or request.query_params.get("token")
    if not token:
        raise NotAuthenticated("Send the customer's widget token.")
    customer = customer_from_token(token=token)
    if customer is None:
        raise AuthenticationFailed("Invalid or expired token.")
    return customer


class TranscriptEmailApi(APIView):
    """A customer asks for the transcript of their ended conversation by email."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        return "Token"

    class TranscriptEmailInputSerializer(serializers.Serializer):
        email = serializers.EmailField(
            required=False, allow_blank=True, max_length=200, help_text="Where to send it; else the email known."
        )

    class TranscriptEmailOutputSerializer(serializers.Serializer):
        email = serializers.EmailField(help_text="The address the transcript is sent to.")

    @extend_schema(
        operation_id="conversation_transcript_email",
        tags=["customers"],
        summary="Email the transcript of an ended conversation to its customer",
        description="For the conversation's customer (`Authorization: Token T` or `?token=T`, T from "
        "`POST /api/widget/session/`) once it is `closed` or `missed`. `email` is needed when the customer's is "
        "not known, and then becomes theirs. The email (plain text and HTML, the customer's and agents' messages, "
        "never internal notes) is sent by a Celery task; `202` says it is on its way. At most "
        "`TRANSCRIPT_EMAIL_RATE` per customer and per address.",
        parameters=[
            OpenApiParameter("conversation_id", int, OpenApiParameter.PATH),
            OpenApiParameter(
                "token", str, OpenApiParameter.QUERY, required=False, description="Instead of the header."
            ),
        ],
        request=TranscriptEmailInputSerializer,
        responses={
            202: TranscriptEmailOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="`invalid_request`: a malformed `email`; `invalid_field`: no email known."
            ),
            401: OpenApiResponse(ErrorSerializer, description="`not_authenticated` or `authentication_failed`."),
            404: OpenApiResponse(ErrorSerializer, description="`not_found`: unknown, or someone else's."),
            409: OpenApiResponse(ErrorSerializer, description="`conversation_open`: not ended yet."),
            429: RATE_LIMITED_RESPONSE,
        },
    )
    def post(self, request: Request, conversation_id: int) -> Response:
        customer = _customer(request)
        given = self.TranscriptEmailInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            address = transcript_email_address(
                customer=customer, conversation_id=conversation_id, email=given.validated_data.get("email") or ""
            )
        except ChatError as refusal:
            raise Refused(refusal.code, refusal.message) from refusal
        recipient = hashlib.sha256(address.lower().encode()).hexdigest()[:32]
        wait = rate_limit_hit(
            scope="transcript_email",
            keys=[f"customer:{customer.id}", f"address:{recipient}"],
            rate=settings.TRANSCRIPT_EMAIL_RATE,
        )
        if wait is not None:
            raise RateLimited(wait, gettext("Too many transcripts were asked for."))
        transcript_email_request(customer=customer, conversation_id=conversation_id, address=address)
        return Response({"email": address}, status=status.HTTP_202_ACCEPTED)
