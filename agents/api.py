"""REST edge for agents: `POST /api/auth/token/` trades a username and password for an API token."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.utils.translation import gettext
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import agent_for_user, is_supervisor
from agents.services import LoginThrottled, api_token_issue, login_attempt_record
from cs_platform.errors import ErrorCode
from cs_platform.rate_limits import client_address
from cs_platform.rest import RATE_LIMITED_RESPONSE, ErrorSerializer, RateLimited


class QueryOrHeaderTokenScheme(OpenApiAuthenticationExtension):
    """Documents both ways an agent token travels, as alternatives: the header and `?token=`."""

    target_class = "agents.authentication.QueryOrHeaderTokenAuthentication"
    name = ["tokenAuth", "tokenQuery"]

    def get_security_definition(self, auto_schema):
        return [
            build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token"),
            {"type": "apiKey", "in": "query", "name": "token"},
        ]

    def get_security_requirement(self, auto_schema):
        return [{"tokenAuth": []}, {"tokenQuery": []}]


class InvalidCredentials(APIException):
    status_code = 400
    default_code = ErrorCode.INVALID_CREDENTIALS
    default_detail = "Wrong username or password."


class AuthTokenApi(APIView):
    """Credentials in the body, no cookies: no CSRF. Agents and supervisors get a token, a fresh one on every call."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class AuthTokenInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=128, trim_whitespace=False, style={"input_type": "password"})

    class AuthTokenOutputSerializer(serializers.Serializer):
        token = serializers.CharField(help_text="Send as `Authorization: Token <token>` or `?token=<token>`.")
        agent_id = serializers.IntegerField(
            allow_null=True,
            help_text="The same id as `conversation.agent.id` and `to_agent_id`; null for a supervisor (no agent).",
        )

    @extend_schema(
        operation_id="auth_token_create",
        tags=["agents"],
        summary="Get an agent's or a supervisor's API token",
        description="Users with an agent profile and supervisors (the `Supervisors` group, superusers) get a token, "
        "a new one on every call. It is valid for "
        "`AGENT_TOKEN_TTL` seconds (default 12 hours) and is revoked at once by a password change or when the user "
        "is deactivated; then ask again. Send it as `Authorization: Token <token>` (preferred: query strings end "
        "up in access logs) or `?token=<token>`, on REST calls and on `/ws/agent/`. At most `LOGIN_RATE` attempts "
        "(default 10 a minute) per username and per address, shared with the admin's login; past it even the "
        "right password is refused until the window ends.",
        request=AuthTokenInputSerializer,
        responses={
            200: AuthTokenOutputSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="`invalid_credentials`, or `invalid_request` for a missing field."
            ),
            403: OpenApiResponse(
                ErrorSerializer, description="`not_an_agent`: the user is neither an agent nor a supervisor."
            ),
            429: RATE_LIMITED_RESPONSE,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = self.AuthTokenInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data["username"]
        try:
            login_attempt_record(username=username, address=client_address(request))
        except LoginThrottled as exc:
            raise RateLimited(exc.retry_after, gettext("Too many login attempts.")) from exc
        user = authenticate(request, username=username, password=serializer.validated_data["password"])
        if user is None:
            raise InvalidCredentials()
        agent = agent_for_user(user=user)
        if agent is None and not is_supervisor(user=user):
            raise PermissionDenied("This user is neither an agent nor a supervisor.", code=ErrorCode.NOT_AN_AGENT)
        token = api_token_issue(user=user)
        agent_id = agent.pk if agent is not None else None
        return Response(self.AuthTokenOutputSerializer({"token": token, "agent_id": agent_id}).data)
