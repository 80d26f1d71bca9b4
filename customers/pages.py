"""Pages served to customers: the chat page a widget frames (`/chat/`) and the full-page mobile chat (`/h5/`).

The page itself is static; its script opens the session and the socket (docs/protocol.md). The view only
finds the business line, says which channel the page speaks for, and which sites may frame it (its
Content-Security-Policy is the site's own, cs_platform/content_policy.py, with the line's sites as
`frame-ancestors`). The H5 page also takes a signed identity from its link (docs/app.md, "A signed H5 link"):
checked here by the session's own rule, so a forged or expired link is refused with a message on the page
instead of opening an anonymous chat.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.formats import number_format
from django.utils.translation import gettext_lazy
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from cs_platform.content_policy import allow_framing_by
from cs_platform.languages import supported_language
from customers.models import Channel
from customers.payloads import widget_appearance, widget_prechat_form
from customers.selectors import business_line_for_widget
from customers.services import IdentityExpired, IdentityInvalid, customer_identity_verify
from routing.models import BusinessLine

EMBEDDABLE_CHANNELS = (Channel.WEB, Channel.H5)
# The link's parameters that name a logged-in user; `name` and `email` may come with them.
LINK_IDENTITY_FIELDS = ("external_id", "identity_hash", "identity_expires")
LINK_EXPIRED = gettext_lazy("This chat link has expired. Go back and open the chat again for a new link.")
LINK_INVALID = gettext_lazy(
    "This chat link is not valid. Go back and open the chat again from the site or app that gave it."
)


def _link_identity(request: HttpRequest, business_line: BusinessLine) -> tuple[dict[str, str], str | None]:
    """The identity a link carries, checked (the fields to send with the session), or the refusal to show."""
    fields = {key: request.GET.get(key, "").strip() for key in (*LINK_IDENTITY_FIELDS, "name", "email")}
    if not any(fields[key] for key in LINK_IDENTITY_FIELDS):
        return {}, None
    if not fields["external_id"]:
        return {}, str(LINK_INVALID)
    expires = fields["identity_expires"]
    try:
        customer_identity_verify(
            business_line=business_line,
            external_id=fields["external_id"],
            identity_hash=fields["identity_hash"],
            identity_expires=int(expires) if expires.isdigit() else None,
            require_expiry=True,
        )
    except IdentityExpired:
        return {}, str(LINK_EXPIRED)
    except IdentityInvalid:
        return {}, str(LINK_INVALID)
    return {key: value for key, value in fields.items() if value}, None


def _chat_page(request: HttpRequest, *, channel: str, embedded: bool, link_identity: bool = False) -> HttpResponse:
    # The page's language: the widget's `data-lang` (its `lang`), else the browser's (LocaleMiddleware).
    language = supported_language(request.GET.get("lang", "")) or translation.get_language()
    with translation.override(language):
        response = _chat_page_in(request, language=language, channel=channel, embedded=embedded, link=link_identity)
    response["Content-Language"] = language
    return response


def _chat_page_in(request: HttpRequest, *, language: str, channel: str, embedded: bool, link: bool) -> HttpResponse:
    """The chat page, its words in the active language (`language`)."""
    business_line = business_line_for_widget(key=request.GET.get("business_line", ""))
    if business_line is None:
        raise Http404("Unknown business line")
    identity, refusal = _link_identity(request, business_line) if link else ({}, None)
    config: dict[str, Any] = {
        "language": language,
        "business_line": business_line.key,
        "business_line_name": business_line.name,
        "greeting": business_line.greeting,
        "channel": channel,
        "embed": embedded,
        # The admin's preview (`&preview=1`): the page shows the line's look and opens no session.
        "preview": embedded and request.GET.get("preview") == "1",
        "session_url": "/api/widget/session/",
        "socket_path": "/ws/customer/",
        "identity": identity,
        "identity_refused": refusal,
        # What the page says if the link's identity is refused later (a new session after it expired).
        "identity_refusals": {"identity_expired": str(LINK_EXPIRED), "identity_invalid": str(LINK_INVALID)}
        if identity
        else {},
        "appearance": widget_appearance(business_line),
        "prechat_form": widget_prechat_form(business_line),
    }
    response = render(
        request,
        "widget/chat.html",
        {"config": config, "title": business_line.widget_title or business_line.name, "embedded": embedded},
        status=403 if refusal else 200,
    )
    allow_framing_by(response, business_line=business_line)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@xframe_options_exempt
def chat_page(request: HttpRequest) -> HttpResponse:
    """`/chat/?business_line=KEY[&channel=web|h5][&embed=1][&lang=zh-hans]`: the page widget.js frames (or a plain
    link)."""
    channel = request.GET.get("channel", Channel.WEB)
    if channel not in EMBEDDABLE_CHANNELS:
        channel = Channel.WEB
    return _chat_page(request, channel=channel, embedded=request.GET.get("embed") == "1")


@require_GET
@xframe_options_exempt
def h5_page(request: HttpRequest) -> HttpResponse:
    """`/h5/?business_line=KEY[&lang=zh-hans][&external_id=ID&identity_expires=T&identity_hash=H[&name=..]]`: the
    full-page chat for mobile browsers and in-app browsers (WeChat, an app's web view), as a logged-in user when
    the link is signed."""
    return _chat_page(request, channel=Channel.H5, embedded=False, link_identity=True)


# The demo shop prices its catalogue in each language's market, as a shop selling to both would: its currency's
# symbol and its own amounts (not a conversion); `free` is the order total over which delivery is free.
DEMO_SHOP_PRICES: dict[str, tuple[str, dict[str, Decimal]]] = {
    "en": (
        "$",
        {"skates": Decimal("129"), "magnet": Decimal("89"), "umbrella": Decimal("24.5"), "free": Decimal("50")},
    ),
    "zh-hans": (
        "¥",
        {"skates": Decimal("899"), "magnet": Decimal("629"), "umbrella": Decimal("169"), "free": Decimal("350")},
    ),
}


def demo_shop_prices(language: str) -> dict[str, str]:
    """The demo shop's prices for a page in `language`, written as its readers write numbers (called inside the
    language's override): `$1,299.00`, `¥899.00`; whole amounts for the free-delivery threshold."""
    symbol, amounts = DEMO_SHOP_PRICES.get(language, DEMO_SHOP_PRICES["en"])
    return {
        item: symbol + number_format(amount, decimal_pos=0 if item == "free" else 2, use_l10n=True, force_grouping=True)
        for item, amount in amounts.items()
    }


@require_GET
def demo_site(request: HttpRequest) -> HttpResponse:
    """`/[?lang=zh-hans]`: the demo company's page, which embeds the widget with its own language as `data-lang`
    (the browser's when `lang` is not given), its prices in that language's currency."""
    language = supported_language(request.GET.get("lang", "")) or translation.get_language()
    with translation.override(language):
        response = render(request, "demo/site.html", {"prices": demo_shop_prices(language)})
    response["Content-Language"] = language
    return response
