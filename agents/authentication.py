"""Agent API tokens: `Authorization: Token T` (DRF's TokenAuthentication) or `?token=T`."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from agents.models import ApiToken
from agents.selectors import api_token_find


class QueryOrHeaderTokenAuthentication(TokenAuthentication):
    """DRF's header parsing over our own tokens (`agents.models.ApiToken`: they expire and are revoked), that also
    reads `?token=`, as WebSocket-minded clients and the contract expect."""

    def authenticate(self, request: Request):
        header_result = super().authenticate(request)
        if header_result is not None:
            return header_result
        token = request.query_params.get("token")
        if not token:
            return None
        return self.authenticate_credentials(token)

    def authenticate_credentials(self, key: str) -> tuple[object, ApiToken]:
        found = api_token_find(token=key)
        if found is None:
            raise AuthenticationFailed("Invalid, expired or revoked token: get a new one from POST /api/auth/token/.")
        return found.user, found
