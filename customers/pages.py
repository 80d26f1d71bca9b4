"""Pages served to customers: the chat page a widget frames (`/chat/`) and the full-page mobile chat (`/h5/`).

The page itself is static; its script opens the session and the socket (docs/protocol.md). The view only
finds the business line, says which channel the page speaks for, and which sites may frame it (its
Content-Security-Policy is the site's own, cs_platform/content_policy.py, with the line's sites as
`frame-ancestors`).
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET

from cs_platform.content_policy import allow_framing_by
from customers.models import Channel
from customers.payloads import widget_appearance, widget_prechat_form
from customers.selectors import business_line_for_widget

EMBEDDABLE_CHANNELS = (Channel.WEB, Channel.H5)


def _chat_page(request: HttpRequest, *, channel: str, embedded: bool) -> HttpResponse:
    business_line = business_line_for_widget(key=request.GET.get("business_line", ""))
    if business_line is None:
        raise Http404("Unknown business line")
    config = {
        "business_line": business_line.key,
        "business_line_name": business_line.name,
        "greeting": business_line.greeting,
        "channel": channel,
        "embed": embedded,
        # The admin's preview (`&preview=1`): the page shows the line's look and opens no session.
        "preview": embedded and request.GET.get("preview") == "1",
        "session_url": "/api/widget/session/",
        "socket_path": "/ws/customer/",
        "appearance": widget_appearance(business_line),
        "prechat_form": widget_prechat_form(business_line),
    }
    title = business_line.widget_title or business_line.name
    response = render(request, "widget/chat.html", {"config": config, "title": title, "embedded": embedded})
    allow_framing_by(response, business_line=business_line)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@xframe_options_exempt
def chat_page(request: HttpRequest) -> HttpResponse:
    """`/chat/?business_line=KEY[&channel=web|h5][&embed=1]`: the page widget.js frames (or a plain link)."""
    channel = request.GET.get("channel", Channel.WEB)
    if channel not in EMBEDDABLE_CHANNELS:
        channel = Channel.WEB
    return _chat_page(request, channel=channel, embedded=request.GET.get("embed") == "1")


@require_GET
@xframe_options_exempt
def h5_page(request: HttpRequest) -> HttpResponse:
    """`/h5/?business_line=KEY`: the full-page chat for mobile browsers and in-app browsers (WeChat)."""
    return _chat_page(request, channel=Channel.H5, embedded=False)
