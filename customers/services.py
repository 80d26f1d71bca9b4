"""Customer identity: the widget session (anonymous visitor or verified site user) and customer tokens."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import get_supported_language_variant

from chat import events, locks
from chat.errors import ChatError
from cs_platform.errors import ErrorCode
from customers.models import Channel, Customer
from customers.selectors import customer_identity_hash, customer_token_signer
from routing.models import BusinessLine


class IdentityInvalid(Exception):
    """The `identity_hash` does not prove the `external_id`: nothing may be created or returned."""

    code = ErrorCode.IDENTITY_INVALID


class IdentityExpired(IdentityInvalid):
    """A proven identity whose `identity_expires` has passed: the site must sign a fresh one."""

    code = ErrorCode.IDENTITY_EXPIRED


@dataclass(frozen=True)
class CustomerSession:
    customer: Customer
    token: str
    created: bool


def customer_token_issue(*, customer: Customer) -> str:
    """A signed, expiring bearer token naming the customer (read back by `customer_from_token`)."""
    return customer_token_signer().sign(str(customer.pk))


@transaction.atomic
def customer_session_start(
    *,
    business_line: BusinessLine,
    channel: Channel | str,
    visitor_token: str | None = None,
    external_id: str | None = None,
    identity_hash: str | None = None,
    identity_expires: int | None = None,
    name: str = "",
    email: str = "",
) -> CustomerSession:
    """Find or create the customer behind a widget, H5 page or app, and issue their token.

    Identified (`external_id`): the hash must prove it (and its expiry, if it has one), then the same external id
    is the same customer of the business line on every channel; a still-anonymous visitor record of this browser
    is adopted if none exists. Anonymous: a known visitor token returns its customer, anything else a new one with
    a fresh token. The visitor token of an identified customer never stands in for the hash, so a shared device
    that logs out cannot reopen that customer's history. `name` and `email` only fill fields still empty: a
    replayed session never rewrites what the customer told us.
    """
    if external_id:
        customer_identity_verify(
            business_line=business_line,
            external_id=external_id,
            identity_hash=identity_hash,
            identity_expires=identity_expires,
        )
        customer, created = _identified_customer(
            business_line=business_line,
            channel=channel,
            visitor_token=visitor_token,
            external_id=external_id,
            name=name,
            email=email,
        )
    else:
        customer, created = _anonymous_customer(
            business_line=business_line, channel=channel, visitor_token=visitor_token, name=name, email=email
        )
    if not created:
        _customer_touch(customer=customer, name=name, email=email)
    return CustomerSession(customer=customer, token=customer_token_issue(customer=customer), created=created)


def customer_identity_verify(
    *,
    business_line: BusinessLine,
    external_id: str,
    identity_hash: str | None,
    identity_expires: int | None,
    require_expiry: bool = False,
) -> None:
    """Raise unless the hash proves the external id (and the expiry, which must be ahead, though not too far).

    `require_expiry`: an identity in a link (the H5 page's) must expire, whatever the business line allows: a link
    is copied, bookmarked and kept in histories."""
    if identity_expires is None and require_expiry:
        raise IdentityInvalid(
            "An identity in a link must expire: send identity_expires (unix seconds) and the HMAC-SHA256 of "
            "external_id:identity_expires."
        )
    if identity_expires is None and business_line.identity_requires_expiry:
        raise IdentityInvalid(
            "This business line accepts only expiring identities: send identity_expires (unix seconds) and the "
            "HMAC-SHA256 of external_id:identity_expires."
        )
    expected = customer_identity_hash(business_line=business_line, external_id=external_id, expires=identity_expires)
    if (
        not identity_hash
        or not business_line.identity_secret
        or not hmac.compare_digest(expected.encode(), identity_hash.strip().lower().encode())
    ):
        raise IdentityInvalid("identity_hash does not match external_id for this business line.")
    if identity_expires is None:
        return
    now = int(time.time())
    if identity_expires <= now:
        raise IdentityExpired("This identity has expired: the site must sign a new one.")
    if identity_expires > now + settings.CUSTOMER_IDENTITY_MAX_AGE:
        raise IdentityInvalid(
            f"identity_expires is too far ahead: at most {settings.CUSTOMER_IDENTITY_MAX_AGE} seconds from now."
        )


def _anonymous_customer(
    *, business_line: BusinessLine, channel: str, visitor_token: str | None, name: str, email: str
) -> tuple[Customer, bool]:
    if visitor_token:
        known = Customer.objects.filter(
            business_line=business_line, visitor_token=visitor_token, external_id__isnull=True
        ).first()
        if known is not None:
            return known, False
    customer = Customer.objects.create(
        business_line=business_line, first_channel=channel, name=name or "", email=email or ""
    )
    return customer, True


def _identified_customer(
    *, business_line: BusinessLine, channel: str, visitor_token: str | None, external_id: str, name: str, email: str
) -> tuple[Customer, bool]:
    existing = Customer.objects.filter(business_line=business_line, external_id=external_id).first()
    if existing is not None:
        return existing, False
    try:
        # A savepoint: a concurrent session for the same external_id may win the unique constraint first.
        with locks.transaction():
            visitor = None
            if visitor_token:
                visitor = locks.customer_first(
                    Customer.objects.filter(
                        business_line=business_line, visitor_token=visitor_token, external_id__isnull=True
                    )
                )
            if visitor is not None:
                visitor.external_id = external_id
                visitor.save(update_fields=["external_id"])
                return visitor, False
            customer = Customer.objects.create(
                business_line=business_line,
                external_id=external_id,
                first_channel=channel,
                name=name or "",
                email=email or "",
            )
            return customer, True
    except IntegrityError:
        return Customer.objects.get(business_line=business_line, external_id=external_id), False


def _customer_touch(*, customer: Customer, name: str, email: str) -> None:
    """Seen again. Whoever replays a session (a token or hash that leaked, a shared device) may fill an empty name
    or email, never replace one: what the customer said stays, and answers keep going to their address."""
    customer.last_seen_at = timezone.now()
    fields = ["last_seen_at"]
    if name and not customer.name:
        customer.name = name
        fields.append("name")
    if email and not customer.email:
        customer.email = email
        fields.append("email")
    customer.save(update_fields=fields)


def customer_language_set(*, customer: Customer, language: str) -> str:
    """Remember the language the customer's widget speaks (a BCP 47 tag: `zh-CN`, `en-US`), as one of ours
    (`zh-hans`, `en`), for what is written to them later (emails). A language we do not speak changes nothing.
    Returns the language kept ("" when none)."""
    try:
        supported = get_supported_language_variant(language.strip().lower()) if language.strip() else ""
    except LookupError:
        return customer.language
    if supported and supported != customer.language:
        customer.language = supported
        customer.save(update_fields=["language"])
    return customer.language


# What a customer's page may tell about itself (`customer.context`), with the longest value kept for each.
CONTEXT_FIELDS = {"page_url": 2000, "page_title": 300, "referrer": 2000, "language": 35, "time_zone": 64}
USER_AGENT_MAX = 500
ATTRIBUTES_MAX = 50
ATTRIBUTE_KEY_MAX = 64
ATTRIBUTE_VALUE_MAX = 500


def _context_refused(message: str) -> ChatError:
    return ChatError(ErrorCode.INVALID_FIELD, message)


def _clean_attributes(attributes: object) -> dict[str, str | int | float | bool | None]:
    """The site's own attributes (`CSWidget.setAttributes`): a flat object of short keys and plain values."""
    if not isinstance(attributes, dict):
        raise _context_refused("attributes must be an object")
    if len(attributes) > ATTRIBUTES_MAX:
        raise _context_refused(f"attributes may hold at most {ATTRIBUTES_MAX} keys")
    cleaned: dict[str, str | int | float | bool | None] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not key.strip() or len(key) > ATTRIBUTE_KEY_MAX:
            raise _context_refused(f"each attribute name must be text of 1 to {ATTRIBUTE_KEY_MAX} characters")
        if isinstance(value, str):
            if len(value) > ATTRIBUTE_VALUE_MAX:
                raise _context_refused(f"attribute {key}: at most {ATTRIBUTE_VALUE_MAX} characters")
        elif value is not None and not isinstance(value, bool | int | float):
            raise _context_refused(f"attribute {key}: text, a number, true, false or null")
        cleaned[key.strip()] = value
    return cleaned


def customer_context_set(*, customer_id: int, context: dict[str, Any], user_agent: str = "") -> Customer:
    """Keep what the customer's page says about where they are (the page, its title, the referrer, language, time
    zone), the browser's user agent from the socket's handshake, and the site's attributes, merged over the
    earlier ones. Agents see it in the workbench's contact panel; those with the customer's open conversation are
    told it changed. A bad field is `invalid_field`, and nothing is stored."""
    page: dict[str, str] = {}
    for name, longest in CONTEXT_FIELDS.items():
        value = context.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > longest:
            raise _context_refused(f"{name} must be text of at most {longest} characters")
        page[name] = value.strip()
    attributes = _clean_attributes(context["attributes"]) if context.get("attributes") is not None else {}
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(id=customer_id)
        customer.context = {
            **customer.context,
            **page,
            "user_agent": user_agent[:USER_AGENT_MAX],
            "updated_at": timezone.now().isoformat(),
        }
        customer.attributes = {**customer.attributes, **attributes}
        customer.save(update_fields=["context", "attributes"])
        frame = events.frame_event(
            {"type": "customer.updated", "customer_id": customer.id}, audience=events.AUDIENCE_AGENTS
        )
        open_ids = customer.conversations.filter(status__in=["waiting", "active"]).values_list("id", flat=True)
        for conversation_id in open_ids:
            events.publish_on_commit(events.conversation_group(conversation_id), frame)
    return customer
