"""Reads about customers: who a customer token belongs to, which origins may open a widget session."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.core import signing

from cs_platform.origins import origin_list, parse_origin, site_origin
from customers.models import Customer
from routing.models import BusinessLine

CUSTOMER_TOKEN_SALT = "customers.customer-token"


def customer_token_signer() -> signing.TimestampSigner:
    """The one signer for customer tokens: the salt keeps them from being valid anywhere else SECRET_KEY signs."""
    return signing.TimestampSigner(salt=CUSTOMER_TOKEN_SALT)


def customer_from_token(*, token: str) -> Customer | None:
    """The customer a token was issued to; None for a missing, forged or expired token, or a deleted customer."""
    if not token or not isinstance(token, str):
        return None
    try:
        value = customer_token_signer().unsign(token, max_age=settings.CUSTOMER_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not value.isdigit():
        return None
    return Customer.objects.select_related("business_line").filter(pk=int(value)).first()


def business_line_for_widget(*, key: str) -> BusinessLine | None:
    return BusinessLine.objects.filter(key=key).first()


def widget_origin_allowed(*, business_line: BusinessLine, origin: str | None, host: str) -> bool:
    """A browser's `Origin` must be one of the business line's sites or the product's own pages (its Host: same
    host and port), by the one origin rule of `cs_platform.origins`.

    Native apps send no `Origin` and are let through: their customers prove nothing more by a header they set.
    No cookie rides along with a widget's requests (its token is the credential), so the product's own pages count
    on either scheme here; the agents' cookie socket also compares the scheme (`origins.own_site_socket`).
    """
    if origin is None:
        return True
    parsed = parse_origin(origin)
    if parsed is None:
        return False
    if parsed in origin_list(business_line.allowed_origin_list):
        return True
    return parsed == site_origin(scheme=parsed.scheme, host=host)


def customer_identity_hash(*, business_line: BusinessLine, external_id: str, expires: int | None = None) -> str:
    """What the business line's own backend computes for a logged-in user: hex HMAC-SHA256 of the external id, or
    of `external_id + ":" + expires` (unix seconds, in decimal) for an identity that expires."""
    message = external_id if expires is None else f"{external_id}:{expires}"
    return hmac.new(business_line.identity_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def customer_by_external_id(*, business_line_key: str, external_id: str) -> Customer | None:
    """An identified customer, as the business line's own systems know them."""
    return Customer.objects.filter(business_line__key=business_line_key, external_id=external_id).first()
