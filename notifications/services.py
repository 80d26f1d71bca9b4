"""Emails to customers and teams: what each says, in whose language, to whom. Rendered here, sent by
`notifications.tasks.email_send` (with retries) from a plain dict, so a retry sends exactly what was rendered.

- A left message goes to its business line's inbox (`BusinessLine.inbox_email`), Reply-To the customer.
- Agents' answers to a missed conversation or a left message go to a customer who has left (no live socket) and
  whose email is known, several answers written together in one email (`EMAIL_ANSWER_DELAY`).
- A customer's ended conversation goes to them as a transcript when they ask (`POST .../transcript/email/`).

Never an internal note (`notifications.selectors`). Plain text plus HTML, from templates/email/, in the customer's
language when known, else the business line's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext

from chat import sockets
from chat.errors import ChatError
from chat.models import OPEN_STATUSES, Conversation
from chat.services import conversation_answers_emailed_claim
from cs_platform.errors import ErrorCode
from customers.models import Customer
from notifications.selectors import (
    answers_last_seq,
    conversation_for_email,
    left_message_for_email,
    transcript_lines,
)
from routing.models import BusinessLine

logger = logging.getLogger(__name__)

_transcript_requested: list[Callable[[int, str], None]] = []


class Email(TypedDict):
    """A rendered email, as the send task receives it (JSON through the broker)."""

    subject: str
    body: str
    html: str
    to: list[str]
    reply_to: list[str]
    purpose: str


def email_language(*, customer: Customer | None, business_line: BusinessLine) -> str:
    """The customer's language when their widget said one we speak, else the business line's."""
    known = {code for code, _ in settings.LANGUAGES}
    for language in (customer.language if customer else "", business_line.language):
        if language in known:
            return language
    return settings.LANGUAGES[0][0]


def address_valid(address: str) -> bool:
    """Whether `address` can go in a header: a customer's email from a left message is not checked on the way in."""
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _render(
    *, template: str, context: dict[str, Any], language: str, subject: str, to: str, reply_to: str, purpose: str
) -> Email:
    """Both parts of `templates/email/<template>.txt|html` and the subject, in `language` (the caller translated
    the subject under `translation.override` too). The subject is one line whatever a customer's name holds; a
    Reply-To that is not an address is left out."""
    with translation.override(language):
        body = render_to_string(f"email/{template}.txt", context)
        html = render_to_string(f"email/{template}.html", context)
    return Email(
        subject=" ".join(subject.split()),
        body=body,
        html=html,
        to=[to],
        reply_to=[reply_to] if reply_to and address_valid(reply_to) else [],
        purpose=purpose,
    )


def _local(conversation: Conversation) -> ZoneInfo:
    try:
        return ZoneInfo(conversation.business_line.time_zone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def left_message_email(*, message_id: int) -> Email | None:
    """The email telling a business line's inbox of a customer's left message; None when the line has no inbox
    (or the message is gone)."""
    message = left_message_for_email(message_id=message_id)
    if message is None:
        return None
    conversation = message.conversation
    line = conversation.business_line
    if not line.inbox_email:
        return None
    customer = conversation.customer
    language = line.language
    with translation.override(language), timezone.override(_local(conversation)):
        who = customer.name or customer.email or gettext("A visitor")
        subject = gettext("New message from %(customer)s (%(line)s)") % {"customer": who, "line": line.name}
        email = _render(
            template="left_message",
            context={
                "line": line,
                "customer": customer,
                "who": who,
                "conversation": conversation,
                "message": message,
                "sent_at": timezone.localtime(message.created_at),
            },
            language=language,
            subject=subject,
            to=line.inbox_email,
            reply_to=customer.email,
            purpose="left_message",
        )
    logger.info("left message %s of conversation %s: email to the line's inbox", message.id, conversation.id)
    return email


def answer_email(*, conversation_id: int) -> Email | None:
    """The email carrying agents' answers not yet emailed nor seen live; None when there are none, the customer is
    connected (they read them in the widget: marked seen) or their email is unknown."""
    conversation = conversation_for_email(conversation_id=conversation_id)
    if conversation is None or not conversation.answers_by_email:
        return None
    after = conversation.answers_emailed_seq
    through = answers_last_seq(conversation_id=conversation.id)
    if through <= after:
        return None
    if not conversation_answers_emailed_claim(conversation_id=conversation.id, after_seq=after, through_seq=through):
        return None  # another run claimed these answers at the same time
    customer = conversation.customer
    if sockets.socket_live(role="customer", owner_id=customer.id):
        logger.info("answers of conversation %s up to %s seen live: no email", conversation.id, through)
        return None
    if not customer.email or not address_valid(customer.email):
        logger.info("answers of conversation %s up to %s: no valid email of the customer", conversation.id, through)
        return None
    line = conversation.business_line
    language = email_language(customer=customer, business_line=line)
    lines = [
        line_
        for line_ in transcript_lines(conversation=conversation, after_seq=after, agents_only=True)
        if line_.seq <= through
    ]
    with translation.override(language), timezone.override(_local(conversation)):
        subject = gettext("%(line)s answered your message") % {"line": line.name}
        email = _render(
            template="answer",
            context={"line": line, "customer": customer, "conversation": conversation, "lines": lines},
            language=language,
            subject=subject,
            to=customer.email,
            reply_to=line.inbox_email,
            purpose="answer",
        )
    logger.info("answers of conversation %s up to %s: email to the customer", conversation.id, through)
    return email


def transcript_email_address(*, customer: Customer, conversation_id: int, email: str) -> str:
    """Check a customer's request for a transcript by email and return the address it goes to.

    Their own conversation (else `not_found`, like one that does not exist), ended (`conversation_open`), and an
    address: the one given, else the one known (`invalid_field` when neither). Changes nothing.
    """
    conversation = Conversation.objects.filter(id=conversation_id, customer_id=customer.id).first()
    if conversation is None:
        raise ChatError(ErrorCode.NOT_FOUND, gettext("No such conversation"))
    if conversation.status in OPEN_STATUSES:
        raise ChatError(ErrorCode.CONVERSATION_OPEN, gettext("The transcript is sent once the conversation has ended"))
    address = email.strip() or customer.email
    if not address:
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("Your email address is needed to send the transcript"))
    if not address_valid(address):
        raise ChatError(ErrorCode.INVALID_FIELD, gettext("email is not a valid email address"))
    return address


def on_transcript_requested(listener: Callable[[int, str], None]) -> None:
    """Call `listener(conversation_id, address)` after a transcript request committed (the task that sends it;
    registered by `NotificationsConfig.ready()`, as `chat.hooks` are: the API never imports the tasks)."""
    if listener not in _transcript_requested:
        _transcript_requested.append(listener)


def transcript_email_request(*, customer: Customer, conversation_id: int, address: str) -> None:
    """A checked request (`transcript_email_address`, then the rate limit): the address the customer gave becomes
    theirs when they had none (never replaces one, as a widget session), and the transcript is sent once committed."""
    if not customer.email:
        Customer.objects.filter(id=customer.id, email="").update(email=address)
    for listener in _transcript_requested:
        transaction.on_commit(partial(listener, conversation_id, address))


def transcript_email(*, conversation_id: int, to: str) -> Email | None:
    """The transcript of an ended conversation for its customer; None when it is gone."""
    conversation = conversation_for_email(conversation_id=conversation_id)
    if conversation is None:
        return None
    line = conversation.business_line
    language = email_language(customer=conversation.customer, business_line=line)
    with translation.override(language), timezone.override(_local(conversation)):
        subject = gettext("Your conversation with %(line)s") % {"line": line.name}
        email = _render(
            template="transcript",
            context={
                "line": line,
                "customer": conversation.customer,
                "conversation": conversation,
                "started_at": timezone.localtime(conversation.started_at),
                "lines": transcript_lines(conversation=conversation),
            },
            language=language,
            subject=subject,
            to=to,
            reply_to=line.inbox_email,
            purpose="transcript",
        )
    logger.info("transcript of conversation %s: email to the customer", conversation.id)
    return email


def email_send(*, email: Email) -> None:
    """Hand a rendered email to the configured backend (`EMAIL_URL`); SMTP failures raise, for the task to retry."""
    message = EmailMultiAlternatives(
        subject=email["subject"],
        body=email["body"],
        to=email["to"],
        reply_to=email["reply_to"] or None,
        headers={"Auto-Submitted": "auto-generated"},
    )
    message.attach_alternative(email["html"], "text/html")
    message.send()
    logger.info("email sent: %s", email["purpose"])
