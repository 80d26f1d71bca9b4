"""Agent API tokens: `Authorization: Token T` (DRF's TokenAuthentication) or `?token=T`."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request


class QueryOrHeaderTokenAuthentication(TokenAuthentication):
    """DRF token auth that also reads `?token=`, as WebSocket-minded clients and the contract expect."""

    def authenticate(self, request: Request):
        header_result = super().authenticate(request)
        if header_result is not None:
            return header_result
        token = request.query_params.get("token")
        if not token:
            return None
        return self.authenticate_credentials(token)
