"""The Content-Security-Policy of every page (django-csp; the policy itself is `CONTENT_SECURITY_POLICY` in
settings): scripts, styles, images and connections from this site only, no inline script or style, and no site
may frame a page, except the customers' chat page, which the business line's own sites frame (its widget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from csp.constants import SELF
from csp.middleware import CSPMiddleware, PolicyParts
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponseBase

from cs_platform.origins import origin_list

if TYPE_CHECKING:
    from routing.models import BusinessLine


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, and `connect-src` names this site's own WebSocket origin: `'self'` covers it only
    in browsers of CSP Level 3 (older in-app browsers, WeChat's among them, refuse the socket otherwise)."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        try:
            host = request.get_host()
        except DisallowedHost:
            return parts  # answered 400 already; 'self' is all it needs
        socket_origin = f"{'wss' if request.is_secure() else 'ws'}://{host}"
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", []), socket_origin]
        parts.update = update
        return parts


def allow_framing_by(response: HttpResponseBase, *, business_line: BusinessLine) -> None:
    """Let this site and the business line's allowed origins (no other) frame `response`: the widget's chat page.
    Only well-formed origins reach the header (an admin's typo cannot add a directive). Set on the response the way
    django-csp's own `csp_replace` decorator does."""
    ancestors = [SELF, *(str(origin) for origin in origin_list(business_line.allowed_origin_list))]
    replace = {**(getattr(response, "_csp_replace", None) or {}), "frame-ancestors": ancestors}
    # django-csp's per-response override, which its middleware reads; the response's stub does not know it.
    response._csp_replace = replace  # type: ignore[attr-defined]
