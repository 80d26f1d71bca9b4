"""Which web origins the product trusts: the one rule for the agents' cookie socket, the widget's business lines
(its session call and its socket) and the chat page's `frame-ancestors`. No other module compares origins.

An origin is a scheme, a host and a port (RFC 6454), and two origins are the same only when all three are:
`http://127.0.0.1:8001` is not `http://127.0.0.1:8000`, nor is `https://chat.example.com` the same site as
`http://chat.example.com`. A scheme's default port counts as written (`https://a.example` is
`https://a.example:443`). A socket's own site is its Host header with the scheme it was served on, read the way
Django reads a request's (`SECURE_PROXY_SSL_HEADER` when set); `CSRF_TRUSTED_ORIGINS` lists further sites, with
Django's `https://*.example.com` form for subdomains.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings

if TYPE_CHECKING:
    from routing.models import BusinessLine

DEFAULT_PORTS = {"http": 80, "https": 443}
# A socket is served on ws/wss; the page that opened it on http/https.
SOCKET_SCHEMES = {"ws": "http", "wss": "https"}


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"


def parse_origin(value: str | None) -> Origin | None:
    """`scheme://host[:port]` (a trailing slash allowed) of an http(s) site; None for anything else: `null`, a
    path, a query, credentials, a bad port, characters a header or a policy must not carry."""
    if not value:
        return None
    text = value.strip()
    if text.endswith("/"):
        text = text[:-1]
    if not text.isascii() or any(char.isspace() or char in ";,'\"" for char in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.fragment:
        return None
    if parts.username is not None or parts.password is not None:
        return None
    return Origin(scheme=scheme, host=parts.hostname.lower(), port=port or DEFAULT_PORTS[scheme])


def site_origin(*, scheme: str, host: str) -> Origin | None:
    """The origin of a site reached as `scheme` (http/https or ws/wss) at `host` (a Host header, port optional)."""
    web_scheme = SOCKET_SCHEMES.get(scheme.lower(), scheme.lower())
    return parse_origin(f"{web_scheme}://{host}") if host else None


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value.decode("latin1")
    return None


def scope_scheme(scope: Mapping[str, Any]) -> str:
    """`http` or `https` for an ASGI scope, as Django decides a request's: the proxy's header when one is
    configured and present (`SECURE_PROXY_SSL_HEADER`), else the scheme the server saw."""
    headers = scope.get("headers", [])
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        header_name = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")
        forwarded = _header(headers, header_name)
        if forwarded is not None:
            return "https" if forwarded.split(",", 1)[0].strip() == secure_value else "http"
    scheme = scope.get("scheme") or ("ws" if scope.get("type") == "websocket" else "http")
    return SOCKET_SCHEMES.get(scheme, scheme)


def scope_site_origin(scope: Mapping[str, Any]) -> Origin | None:
    """The product's own origin as a socket or request reached it: its Host header and scheme."""
    return site_origin(scheme=scope_scheme(scope), host=_header(scope.get("headers", []), b"host") or "")


def _matches_trusted(origin: Origin, trusted: str) -> bool:
    """One `CSRF_TRUSTED_ORIGINS` entry: an exact origin, or `scheme://*.domain[:port]` for its subdomains."""
    if "://*." in trusted:
        scheme, _, pattern = trusted.partition("://*.")
        domain = parse_origin(f"{scheme}://{pattern}")
        return (
            domain is not None
            and (origin.scheme, origin.port) == (domain.scheme, domain.port)
            and origin.host.endswith(f".{domain.host}")
        )
    return parse_origin(trusted) == origin


def trusted_origin(origin: Origin) -> bool:
    """An origin an operator vouched for in `CSRF_TRUSTED_ORIGINS` (the admin's CSRF check trusts the same)."""
    return any(_matches_trusted(origin, trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS)


def own_site_socket(scope: Mapping[str, Any]) -> bool:
    """A session cookie rides along with any page's socket: only the product's own pages (same scheme, host and
    port as the socket) and the sites of `CSRF_TRUSTED_ORIGINS` may use it. A missing `Origin` is refused."""
    origin = parse_origin(_header(scope.get("headers", []), b"origin"))
    if origin is None:
        return False
    return origin == scope_site_origin(scope) or trusted_origin(origin)


def origin_list(values: Iterable[str]) -> list[Origin]:
    """The well-formed origins of a list an operator typed (a business line's sites), each once, in order."""
    found: list[Origin] = []
    for value in values:
        origin = parse_origin(value)
        if origin is not None and origin not in found:
            found.append(origin)
    return found


def widget_origin_allowed(*, business_line: BusinessLine, origin: str | None, host: str) -> bool:
    """A browser's `Origin` must be one of the business line's sites or the product's own pages (its Host: same
    host and port).

    Native apps send no `Origin` and are let through: their customers prove nothing more by a header they set.
    No cookie rides along with a widget's requests (its token is the credential), so the product's own pages count
    on either scheme here; the agents' cookie socket also compares the scheme (`own_site_socket`).
    """
    if origin is None:
        return True
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    if parsed in origin_list(business_line.allowed_origin_list):
        return True
    return parsed == site_origin(scheme=parsed.scheme, host=host)
