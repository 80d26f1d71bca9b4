"""What a widget, H5 page or app shows of a business line before and around a chat (docs/protocol.md,
`POST /api/widget/session/`): one shape for the chat page's config and the session's answer."""

from __future__ import annotations

from typing import Any

from customers.contrast import accent_on_white, text_color_on
from routing.models import BusinessLine


def widget_appearance(business_line: BusinessLine) -> dict[str, Any]:
    """Colour, launcher position and text, title, greeting, team name and picture, as set in the admin; with the
    text colour that reads on that colour and the colour's own shade that reads on white (customers/contrast.py)."""
    return {
        "color": business_line.widget_color,
        "text_color": text_color_on(business_line.widget_color),
        "accent_color": accent_on_white(business_line.widget_color),
        "position": business_line.widget_position,
        "title": business_line.widget_title or business_line.name,
        "greeting": business_line.greeting,
        "team_name": business_line.team_name,
        "team_picture": business_line.team_picture or None,
        "launcher_text": business_line.launcher_text,
    }


def widget_prechat_form(business_line: BusinessLine) -> dict[str, str]:
    """Each pre-chat question (`name`, `email`, `phone`, `question`) and how it is asked: `off`, `optional`,
    `required`."""
    return business_line.prechat_form
