"""REST edge for customers: `POST /api/widget/session/` opens (or resumes) a widget, H5 or app session."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from cs_platform.errors import ErrorCode
from cs_platform.origins import widget_origin_allowed
from cs_platform.rate_limits import client_address, rate_limit_hit
from cs_platform.rest import RATE_LIMITED_RESPONSE, ErrorSerializer, RateLimited
from customers.models import Channel
from customers.payloads import widget_appearance, widget_prechat_form
from customers.selectors import business_line_for_widget
from customers.services import IdentityInvalid, customer_language_set, customer_session_start


class WidgetSessionApi(APIView):
    """Token based, no cookies: no CSRF, anyone may call; the business line's key and origins gate it."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    class WidgetSessionInputSerializer(serializers.Serializer):
        business_line = serializers.CharField(max_length=64, help_text="The business line's public widget key.")
        channel = serializers.ChoiceField(choices=Channel.choices)
        visitor_token = serializers.CharField(
            max_length=64,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="The token a previous session returned; an unknown one starts a new visitor.",
        )
        external_id = serializers.CharField(
            max_length=128,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="The site's own user id, for a logged-in user. Needs `identity_hash`.",
        )
        identity_hash = serializers.CharField(
            max_length=128,
            required=False,
            allow_null=True,
            allow_blank=True,
            help_text="Hex HMAC-SHA256 of `external_id` (with `identity_expires`: of `external_id:identity_expires`), "
            "keyed with the business line's identity secret.",
        )
        identity_expires = serializers.IntegerField(
            required=False,
            allow_null=True,
            min_value=0,
            help_text="Unix seconds after which this identity is refused (`identity_expired`); at most "
            "`CUSTOMER_IDENTITY_MAX_AGE` ahead. Needs `external_id`.",
        )
        name = serializers.CharField(max_length=200, required=False, allow_null=True, allow_blank=True)
        email = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
        language = serializers.CharField(
            max_length=35,
            required=False,
            allow_blank=True,
            help_text="The widget's language (BCP 47, `zh-CN`, `en`): emails to the customer are written in it when "
            "the product speaks it.",
        )

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            proof = attrs.get("identity_hash") or attrs.get("identity_expires") is not None
            if proof and not attrs.get("external_id"):
                raise serializers.ValidationError(
                    {"external_id": ["identity_hash and identity_expires require external_id."]}
                )
            return attrs

    class WidgetSessionOutputSerializer(serializers.Serializer):
        customer_id = serializers.IntegerField()
        token = serializers.CharField(help_text="Signed, expiring customer token for `/ws/customer/?token=`.")
        visitor_token = serializers.CharField(help_text="Keep it (e.g. in localStorage) and send it next time.")
        appearance = serializers.DictField(
            help_text="The business line's widget: `color` (#RRGGBB), `position` (`right`/`left`), `title`, "
            "`greeting`, `team_name`, `team_picture` (a data: URL or null), `launcher_text`."
        )
        prechat_form = serializers.DictField(
            child=serializers.ChoiceField(choices=["off", "optional", "required"]),
            help_text="The pre-chat form: `name`, `email`, `phone`, `question`, each `off`, `optional` or `required`.",
        )

    @extend_schema(
        operation_id="widget_session_create",
        tags=["widget"],
        summary="Open or resume a customer session",
        description="Anonymous: send the `visitor_token` of the previous session to stay the same customer. "
        "Logged-in users of the site: send `external_id` and `identity_hash` (hex HMAC-SHA256 of `external_id` "
        "keyed with the business line's identity secret, computed by the site's backend) to be the same customer "
        "on every channel; better, an identity that expires: `identity_expires` (unix seconds) and the HMAC of "
        '`external_id + ":" + identity_expires`. `name` and `email` only fill a customer\'s empty fields. '
        "A browser's `Origin` must be one of the business line's allowed origins. Use `token` for "
        "`/ws/customer/?token=`. At most `WIDGET_SESSION_RATE` sessions (default 30 a minute) per client "
        "address and business line.",
        request=WidgetSessionInputSerializer,
        responses={
            200: OpenApiResponse(WidgetSessionOutputSerializer, description="An existing customer."),
            201: OpenApiResponse(WidgetSessionOutputSerializer, description="A new customer."),
            400: OpenApiResponse(ErrorSerializer, description="`invalid_request`: a bad channel or field."),
            403: OpenApiResponse(
                ErrorSerializer,
                description="`identity_invalid` (wrong or missing identity_hash, an expiry too far ahead, or a plain "
                "identity where the business line requires expiring ones), `identity_expired` or `origin_forbidden`.",
            ),
            404: OpenApiResponse(ErrorSerializer, description="`business_line_not_found`."),
            429: RATE_LIMITED_RESPONSE,
        },
        examples=[
            OpenApiExample("Anonymous visitor", value={"business_line": "demo", "channel": "web"}, request_only=True),
            OpenApiExample(
                "Identified user",
                value={
                    "business_line": "demo",
                    "channel": "app",
                    "external_id": "user-42",
                    "identity_hash": "<hex hmac-sha256>",
                    "name": "Ada",
                    "email": "ada@example.com",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Identified user, expiring identity",
                value={
                    "business_line": "demo",
                    "channel": "web",
                    "external_id": "user-42",
                    "identity_expires": 1767225600,
                    "identity_hash": "<hex hmac-sha256 of user-42:1767225600>",
                },
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        serializer = self.WidgetSessionInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        # Counted before anything is looked up: a flood costs one Redis round trip a request, nothing more.
        wait = rate_limit_hit(
            scope="widget_session",
            keys=[f"{client_address(request)} {data['business_line']}"],
            rate=settings.WIDGET_SESSION_RATE,
        )
        if wait is not None:
            raise RateLimited(wait, gettext("Too many chat sessions were opened from your network."))
        business_line = business_line_for_widget(key=data["business_line"])
        if business_line is None:
            raise NotFound("Unknown business line.", code=ErrorCode.BUSINESS_LINE_NOT_FOUND)
        origin = request.headers.get("Origin")
        if not widget_origin_allowed(business_line=business_line, origin=origin, host=request.get_host()):
            raise PermissionDenied(
                "This origin may not open a session for this business line.",
                code=ErrorCode.ORIGIN_FORBIDDEN,
            )
        try:
            session = customer_session_start(
                business_line=business_line,
                channel=data["channel"],
                visitor_token=data.get("visitor_token") or None,
                external_id=data.get("external_id") or None,
                identity_hash=data.get("identity_hash") or None,
                identity_expires=data.get("identity_expires"),
                name=data.get("name") or "",
                email=data.get("email") or "",
            )
        except IdentityInvalid as exc:
            raise PermissionDenied(str(exc), code=exc.code) from exc
        if data.get("language"):
            customer_language_set(customer=session.customer, language=data["language"])
        output = self.WidgetSessionOutputSerializer(
            {
                "customer_id": session.customer.pk,
                "token": session.token,
                "visitor_token": session.customer.visitor_token,
                "appearance": widget_appearance(business_line),
                "prechat_form": widget_prechat_form(business_line),
            }
        )
        return Response(output.data, status=status.HTTP_201_CREATED if session.created else status.HTTP_200_OK)

    # APIView hands its handlers DRF's Request, not Django's (DRF's own stub ignores this same override).
    @extend_schema(exclude=True)
    def options(self, request: Request, *args: Any, **kwargs: Any) -> Response:  # type: ignore[override]
        """CORS preflight. It cannot name a business line, so it admits any origin: the POST checks it."""
        response = Response(status=status.HTTP_204_NO_CONTENT)
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
        return response

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        """Let a widget on another site read the answer, unless its origin was the problem."""
        response = super().finalize_response(request, response, *args, **kwargs)
        origin = request.headers.get("Origin")
        data = getattr(response, "data", None)
        refused = isinstance(data, dict) and data.get("code") == ErrorCode.ORIGIN_FORBIDDEN
        if origin is not None and not refused:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Expose-Headers"] = "Retry-After"
        patch_vary_headers(response, ["Origin"])
        return response
