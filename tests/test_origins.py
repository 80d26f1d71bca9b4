"""The origin rule (cs_platform/origins.py): scheme, host and port, for the agents' cookie socket and the widget."""

import ast
from pathlib import Path

import pytest
from channels.testing import WebsocketCommunicator

from cs_platform.asgi import application
from cs_platform.origins import Origin, own_site_socket, parse_origin, widget_origin_allowed
from tests.factories import AgentFactory, BusinessLineFactory


def socket_scope(*, origin=None, host="chat.example", scheme="ws", headers=()):
    all_headers = [(b"host", host.encode()), *headers]
    if origin is not None:
        all_headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "scheme": scheme, "headers": all_headers}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://Shop.Example", Origin("https", "shop.example", 443)),
        ("https://shop.example:443/", Origin("https", "shop.example", 443)),
        ("http://127.0.0.1:8000", Origin("http", "127.0.0.1", 8000)),
        ("http://[::1]:8000", Origin("http", "::1", 8000)),
        ("null", None),
        ("", None),
        ("ftp://shop.example", None),
        ("https://shop.example/path", None),
        ("https://user@shop.example", None),
        ("https://shop.example:99999", None),
        ("https://shop.example; script-src *", None),
        ("https://shop.example 'unsafe-inline'", None),
    ],
)
def test_an_origin_is_a_scheme_a_host_and_a_port(text, expected):
    assert parse_origin(text) == expected


def test_an_origin_prints_without_its_default_port():
    assert [str(parse_origin(text)) for text in ("https://a.example:443", "http://[::1]:8000")] == [
        "https://a.example",
        "http://[::1]:8000",
    ]


@pytest.mark.parametrize(
    ("origin", "scheme", "allowed"),
    [
        ("http://chat.example", "ws", True),
        ("http://chat.example:80", "ws", True),
        ("https://chat.example", "wss", True),
        ("https://chat.example", "ws", False),
        ("http://chat.example", "wss", False),
        ("http://chat.example:8001", "ws", False),
        ("http://evil.example", "ws", False),
        (None, "ws", False),
    ],
)
def test_the_cookie_socket_must_come_from_the_same_scheme_host_and_port(origin, scheme, allowed):
    assert own_site_socket(socket_scope(origin=origin, scheme=scheme)) is allowed


@pytest.mark.parametrize(("forwarded", "allowed"), [("https", True), ("http", False), (None, False)])
def test_the_proxys_tls_header_decides_the_scheme_when_configured(settings, forwarded, allowed):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    headers = [(b"x-forwarded-proto", forwarded.encode())] if forwarded else []
    assert own_site_socket(socket_scope(origin="https://chat.example", headers=headers)) is allowed


def test_the_proxys_tls_header_is_ignored_unless_configured(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    scope = socket_scope(origin="https://chat.example", headers=[(b"x-forwarded-proto", b"https")])
    assert own_site_socket(scope) is False


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://admin.example", True),
        ("https://admin.example:8443", False),
        ("http://admin.example", False),
        ("https://eu.corp.example", True),
        ("https://corp.example", False),
        ("http://eu.corp.example", False),
        ("https://evilcorp.example", False),
    ],
)
def test_trusted_origins_are_matched_whole(settings, origin, allowed):
    settings.CSRF_TRUSTED_ORIGINS = ["https://admin.example", "https://*.corp.example"]
    assert own_site_socket(socket_scope(origin=origin, host="chat.example")) is allowed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://shop.example", True),
        ("https://SHOP.example:443/", True),
        ("http://shop.example", False),
        ("https://shop.example:8443", False),
        ("http://chat.example:8000", True),
        ("http://chat.example:8001", False),
        ("https://evil.example", False),
        ("null", False),
        (None, True),
    ],
)
def test_a_widget_origin_is_one_of_the_lines_sites_or_the_products_own_host_and_port(origin, allowed):
    line = BusinessLineFactory(allowed_origins="https://shop.example\nnot an origin")
    assert widget_origin_allowed(business_line=line, origin=origin, host="chat.example:8000") is allowed


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("origin", ["http://testserver:8001", "https://testserver"])
async def test_an_agent_session_socket_from_another_port_or_scheme_is_closed_with_4403(client, origin):
    from asgiref.sync import sync_to_async

    agent = await sync_to_async(AgentFactory)()
    await sync_to_async(client.force_login)(agent.user)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"host", b"testserver"), (b"origin", origin.encode()), (b"cookie", cookie)]
    )
    await socket.connect()
    assert (await socket.receive_json_from())["code"] == "origin_forbidden"
    assert (await socket.receive_output())["code"] == 4403


def test_origins_are_compared_in_cs_platform_origins_only():
    # one rule: every other module asks cs_platform.origins, none parses or compares origins itself
    base = Path(__file__).resolve().parent.parent
    parsers = []
    for app in ("agents", "audit", "chat", "cs_platform", "customers", "privacy", "routing"):
        for path in sorted((base / app).rglob("*.py")):
            source = path.read_text()
            calls = {
                node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Call)
            }
            # splitting a URL is parsing an origin where the module speaks of origins (the harness splits the
            # database's URL, which is no origin)
            splits_origins = "urlsplit" in calls and "origin" in source.lower()
            if calls & {"parse_origin", "site_origin", "scope_site_origin"} or splits_origins:
                parsers.append(str(path.relative_to(base)))
    assert parsers == ["cs_platform/origins.py"]
