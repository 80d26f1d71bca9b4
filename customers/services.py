"""Customer identity: the widget session (anonymous visitor or verified site user) and customer tokens."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import StrEnum

from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Channel, Customer
from customers.selectors import customer_identity_hash, customer_token_signer
from routing.models import BusinessLine


class CustomerErrorCode(StrEnum):
    BUSINESS_LINE_NOT_FOUND = "business_line_not_found"
    IDENTITY_INVALID = "identity_invalid"
    ORIGIN_FORBIDDEN = "origin_forbidden"


class IdentityInvalid(Exception):
    """The `identity_hash` does not prove the `external_id`: nothing may be created or returned."""

    code = CustomerErrorCode.IDENTITY_INVALID


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
    name: str = "",
    email: str = "",
) -> CustomerSession:
    """Find or create the customer behind a widget, H5 page or app, and issue their token.

    Identified (`external_id`): the hash must prove it, then the same external id is the same customer of the
    business line on every channel; a still-anonymous visitor record of this browser is adopted if none exists.
    Anonymous: a known visitor token returns its customer, anything else a new one with a fresh token. The
    visitor token of an identified customer never stands in for the hash, so a shared device that logs out
    cannot reopen that customer's history.
    """
    if external_id:
        if not _identity_hash_valid(business_line=business_line, external_id=external_id, identity_hash=identity_hash):
            raise IdentityInvalid("identity_hash does not match external_id for this business line.")
        customer, created = _identified_customer(
            business_line=business_line, channel=channel, visitor_token=visitor_token,
            external_id=external_id, name=name, email=email,
        )
    else:
        customer, created = _anonymous_customer(
            business_line=business_line, channel=channel, visitor_token=visitor_token, name=name, email=email
        )
    if not created:
        _customer_touch(customer=customer, name=name, email=email)
    return CustomerSession(customer=customer, token=customer_token_issue(customer=customer), created=created)


def _identity_hash_valid(*, business_line: BusinessLine, external_id: str, identity_hash: str | None) -> bool:
    if not identity_hash or not business_line.identity_secret:
        return False
    expected = customer_identity_hash(business_line=business_line, external_id=external_id)
    return hmac.compare_digest(expected.encode(), identity_hash.strip().lower().encode())


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
        with transaction.atomic():
            visitor = None
            if visitor_token:
                visitor = (
                    Customer.objects.select_for_update()
                    .filter(business_line=business_line, visitor_token=visitor_token, external_id__isnull=True)
                    .first()
                )
            if visitor is not None:
                visitor.external_id = external_id
                visitor.save(update_fields=["external_id"])
                return visitor, False
            customer = Customer.objects.create(
                business_line=business_line, external_id=external_id, first_channel=channel,
                name=name or "", email=email or "",
            )
            return customer, True
    except IntegrityError:
        return Customer.objects.get(business_line=business_line, external_id=external_id), False


def _customer_touch(*, customer: Customer, name: str, email: str) -> None:
    customer.last_seen_at = timezone.now()
    fields = ["last_seen_at"]
    if name and name != customer.name:
        customer.name = name
        fields.append("name")
    if email and email != customer.email:
        customer.email = email
        fields.append("email")
    customer.save(update_fields=fields)
