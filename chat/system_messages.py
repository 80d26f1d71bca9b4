"""A system message's text in the reader's language (the active one), from its `event` and `params`: the server's
twin of `systemMessageText` in static/shared/i18n.js, for the pages Django draws (the admin's transcript). The stored
English `body` stands for an event or parameters this does not know. The customer never reads an agent's name in a
notice about that agent not answering.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from django.utils.translation import gettext

Reader = Literal["customer", "agent"]


def system_message_text(*, event: str, params: Mapping[str, str], body: str, reader: Reader) -> str:
    """The text a reader sees for one system message, in the active language."""
    if event == "assigned" and params.get("agent"):
        return gettext("%(agent)s joined the conversation.") % {"agent": params["agent"]}
    if event == "reassigned":
        if reader == "customer":
            return gettext("Sorry for the wait: another agent is taking over.")
        if params.get("agent"):
            return gettext("%(agent)s did not answer in time; reassigning.") % {"agent": params["agent"]}
    if event == "transferred":
        if params.get("line"):
            return gettext("Transferred to %(line)s; waiting for an agent.") % {"line": params["line"]}
        if params.get("agent") and reader == "customer":
            return gettext("Transferred to %(agent)s.") % {"agent": params["agent"]}
        if params.get("agent") and params.get("by"):
            return gettext("%(by)s transferred the conversation to %(agent)s.") % {
                "by": params["by"],
                "agent": params["agent"],
            }
    if event == "requeued":
        if params.get("by") == "hand_back":
            return gettext("Your agent had to step away; another agent will be with you shortly.")
        if reader == "customer":
            return gettext("Your agent was disconnected; finding another agent for you.")
        return gettext("The agent was disconnected; finding another agent.")
    if event == "closed":
        closed_by = {
            "agent": gettext("The agent closed the conversation."),
            "customer": gettext("The customer closed the conversation."),
            "idle": gettext("The conversation was closed because there was no reply for a while."),
        }
        if params.get("by") in closed_by:
            return closed_by[params["by"]]
    if event == "missed":
        return gettext("Sorry, nobody is free right now. Leave us a message and we will get back to you.")
    if event == "left_message":
        return gettext("Thanks! We got your message and will get back to you.")
    return body
