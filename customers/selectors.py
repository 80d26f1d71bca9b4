"""Reads about customers: who a customer token belongs to, what their socket needs to start, their identity hash."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from django.conf import settings
from django.core import signing
from django.db import connection
from django.db.models import Field, Model

from agents.models import Agent, Presence
from chat.models import OPEN_STATUSES, Conversation, ConversationStatus
from customers.models import Customer
from routing.models import BusinessLine

CUSTOMER_TOKEN_SALT = "customers.customer-token"

_M = TypeVar("_M", bound=Model)


def customer_token_signer() -> signing.TimestampSigner:
    """The one signer for customer tokens: the salt keeps them from being valid anywhere else SECRET_KEY signs."""
    return signing.TimestampSigner(salt=CUSTOMER_TOKEN_SALT)


def customer_id_from_token(*, token: str) -> int | None:
    """The id a customer token names, checked without the database; None for a missing, forged or expired token."""
    if not token or not isinstance(token, str):
        return None
    try:
        value = customer_token_signer().unsign(token, max_age=settings.CUSTOMER_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    return int(value) if value.isdigit() else None


def customer_from_token(*, token: str) -> Customer | None:
    """The customer a token was issued to (their business line loaded); None for a missing, forged or expired
    token, or a deleted customer."""
    found = customer_for_socket(token=token)
    return found.customer if found is not None else None


@dataclass(frozen=True)
class SocketCustomer:
    """What a customer socket needs before its `hello`: the customer with their business line, the agents of the
    line who chose `online` (whether any has a live socket is Redis' to say), the customer's open conversations,
    and their answered left message (at most one): their latest conversation, when it is closed, was missed or a
    left message, has an agent's answer and no rating yet; a customer who comes back reads the answer there."""

    customer: Customer
    online_agent_ids: list[int]
    open_conversation_ids: list[int]
    answered_conversation_ids: list[int]


def customer_for_socket(*, token: str) -> SocketCustomer | None:
    """`customer_from_token` and everything else a socket needs before `hello`, in one statement: a handshake
    used to take three round trips (docs/performance.md). None as for `customer_from_token`."""
    customer_id = customer_id_from_token(token=token)
    if customer_id is None:
        return None
    statement, customer_fields, line_fields = _socket_customer_statement()
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            {
                "customer_id": customer_id,
                "online": Presence.ONLINE.value,
                "open": [s.value for s in OPEN_STATUSES],
                "closed": ConversationStatus.CLOSED.value,
            },
        )
        row = cursor.fetchone()
    if row is None:
        return None
    customer = _from_row(Customer, customer_fields, row[: len(customer_fields)])
    customer.business_line = _from_row(BusinessLine, line_fields, row[len(customer_fields) : -3])
    return SocketCustomer(
        customer=customer, online_agent_ids=row[-3], open_conversation_ids=row[-2], answered_conversation_ids=row[-1]
    )


@cache
def _socket_customer_statement() -> tuple[str, list[Field[Any, Any]], list[Field[Any, Any]]]:
    """The handshake's statement, written once from the models (every column of the customer and the line)."""
    customer_fields = list(Customer._meta.concrete_fields)
    line_fields = list(BusinessLine._meta.concrete_fields)
    team = Agent.business_lines.through._meta
    team_agent, team_line = team.get_field("agent").column, team.get_field("businessline").column
    columns = [f'c."{field.column}"' for field in customer_fields] + [f'b."{field.column}"' for field in line_fields]
    statement = f"""
SELECT {", ".join(columns)},
    ARRAY(
        SELECT a.id FROM {Agent._meta.db_table} a JOIN {team.db_table} t ON t.{team_agent} = a.id
        WHERE t.{team_line} = c.business_line_id AND a.presence = %(online)s ORDER BY a.id
    ),
    ARRAY(
        SELECT v.id FROM {Conversation._meta.db_table} v
        WHERE v.customer_id = c.id AND v.status = ANY(%(open)s) ORDER BY v.id
    ),
    ARRAY(
        SELECT latest.id FROM (
            SELECT v.id, v.status, v.answers_by_email, v.last_agent_message_at, v.rating
            FROM {Conversation._meta.db_table} v WHERE v.customer_id = c.id
            ORDER BY v.started_at DESC, v.id DESC LIMIT 1
        ) latest
        WHERE latest.status = %(closed)s AND latest.answers_by_email AND latest.last_agent_message_at IS NOT NULL
            AND latest.rating IS NULL
    )
FROM {Customer._meta.db_table} c JOIN {BusinessLine._meta.db_table} b ON b.id = c.business_line_id
WHERE c.id = %(customer_id)s
"""
    return statement, customer_fields, line_fields


def _from_row(model: type[_M], fields: list[Field[Any, Any]], values: tuple[Any, ...]) -> _M:
    """A model instance from raw column values, converted as the ORM would (JSON columns come back as text)."""
    converted = [
        field.from_db_value(value, None, connection) if value is not None and hasattr(field, "from_db_value") else value
        for field, value in zip(fields, values)
    ]
    return model.from_db(connection.alias, [field.attname for field in fields], converted)


def business_line_for_widget(*, key: str) -> BusinessLine | None:
    return BusinessLine.objects.filter(key=key).first()


def customer_identity_hash(*, business_line: BusinessLine, external_id: str, expires: int | None = None) -> str:
    """What the business line's own backend computes for a logged-in user: hex HMAC-SHA256 of the external id, or
    of `external_id + ":" + expires` (unix seconds, in decimal) for an identity that expires."""
    message = external_id if expires is None else f"{external_id}:{expires}"
    return hmac.new(business_line.identity_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def customer_by_external_id(*, business_line_key: str, external_id: str) -> Customer | None:
    """An identified customer, as the business line's own systems know them."""
    return Customer.objects.filter(business_line__key=business_line_key, external_id=external_id).first()
