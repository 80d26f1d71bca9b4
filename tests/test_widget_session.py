"""`POST /api/widget/session/`: anonymous visitors, verified identities, origins, and customer tokens."""

import hashlib
import hmac
import threading
import time

import pytest
from django.core import signing
from django.db import connection
from django.utils import translation
from django.utils.translation import gettext, ngettext
from rest_framework.test import APIClient

from agents.models import Presence
from chat.models import ConversationStatus
from customers.models import Customer
from customers.selectors import customer_for_socket, customer_from_token, customer_identity_hash
from customers.services import IdentityInvalid, customer_session_start, customer_token_issue
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory, CustomerFactory

URL = "/api/widget/session/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def line():
    return BusinessLineFactory(key="shop", identity_secret="s3cret", allowed_origins="https://www.shop.example")


def sign(external_id: str, secret: str = "s3cret") -> str:
    return hmac.new(secret.encode(), external_id.encode(), hashlib.sha256).hexdigest()


def post(api: APIClient, body: dict, **headers):
    return api.post(URL, body, format="json", headers=headers)


class TestAnonymous:
    def test_new_visitor_gets_a_new_customer_and_fresh_tokens(self, api, line):
        response = post(api, {"business_line": "shop", "channel": "web"})

        assert response.status_code == 201
        body = response.json()
        customer = Customer.objects.get(pk=body["customer_id"])
        assert customer.business_line == line
        assert customer.external_id is None
        assert customer.first_channel == "web"
        assert body["visitor_token"] == customer.visitor_token
        assert len(body["visitor_token"]) >= 32
        assert customer_from_token(token=body["token"]) == customer

    def test_reload_with_visitor_token_keeps_the_customer_and_updates_it(self, api, line):
        first = post(api, {"business_line": "shop", "channel": "web"}).json()
        before = Customer.objects.get(pk=first["customer_id"]).last_seen_at

        again = post(
            api,
            {
                "business_line": "shop",
                "channel": "web",
                "visitor_token": first["visitor_token"],
                "name": "Ada",
                "email": "ada@example.com",
            },
        )

        assert again.status_code == 200
        assert again.json()["customer_id"] == first["customer_id"]
        assert again.json()["visitor_token"] == first["visitor_token"]
        customer = Customer.objects.get(pk=first["customer_id"])
        assert (customer.name, customer.email) == ("Ada", "ada@example.com")
        assert customer.last_seen_at > before
        assert Customer.objects.count() == 1

    def test_unknown_visitor_token_starts_a_new_customer_with_a_fresh_token(self, api, line):
        response = post(api, {"business_line": "shop", "channel": "h5", "visitor_token": "made-up-token"})

        assert response.status_code == 201
        assert response.json()["visitor_token"] != "made-up-token"

    def test_visitor_token_of_another_business_line_is_not_known_here(self, api, line):
        other = CustomerFactory(business_line=BusinessLineFactory())

        response = post(api, {"business_line": "shop", "channel": "web", "visitor_token": other.visitor_token})

        assert response.status_code == 201
        assert response.json()["customer_id"] != other.pk

    def test_visitor_token_of_an_identified_customer_does_not_replace_the_hash(self, api, line):
        identified = CustomerFactory(business_line=line, external_id="u1")

        response = post(api, {"business_line": "shop", "channel": "web", "visitor_token": identified.visitor_token})

        assert response.status_code == 201
        assert response.json()["customer_id"] != identified.pk


class TestIdentified:
    def test_same_external_id_is_the_same_customer_on_every_channel(self, api, line):
        ids = {
            post(
                api, {"business_line": "shop", "channel": channel, "external_id": "u-42", "identity_hash": sign("u-42")}
            ).json()["customer_id"]
            for channel in ("web", "h5", "app")
        }

        assert len(ids) == 1
        customer = Customer.objects.get(pk=ids.pop())
        assert customer.external_id == "u-42"
        assert customer.first_channel == "web"
        assert Customer.objects.count() == 1

    def test_the_first_identified_session_creates_and_later_ones_find(self, api, line):
        first = post(
            api,
            {
                "business_line": "shop",
                "channel": "app",
                "external_id": "u-1",
                "identity_hash": sign("u-1"),
                "name": "Bo",
            },
        )
        second = post(
            api, {"business_line": "shop", "channel": "app", "external_id": "u-1", "identity_hash": sign("u-1").upper()}
        )

        assert (first.status_code, second.status_code) == (201, 200)
        assert Customer.objects.get().name == "Bo"

    def test_anonymous_visitor_who_logs_in_keeps_their_record(self, api, line):
        anonymous = post(api, {"business_line": "shop", "channel": "web"}).json()

        identified = post(
            api,
            {
                "business_line": "shop",
                "channel": "web",
                "visitor_token": anonymous["visitor_token"],
                "external_id": "u-7",
                "identity_hash": sign("u-7"),
            },
        )

        assert identified.status_code == 200
        assert identified.json()["customer_id"] == anonymous["customer_id"]
        assert Customer.objects.get().external_id == "u-7"

    def test_visitor_who_logs_in_to_a_known_identity_gets_that_identity(self, api, line):
        known = CustomerFactory(business_line=line, external_id="u-8")
        anonymous = post(api, {"business_line": "shop", "channel": "web"}).json()

        identified = post(
            api,
            {
                "business_line": "shop",
                "channel": "web",
                "visitor_token": anonymous["visitor_token"],
                "external_id": "u-8",
                "identity_hash": sign("u-8"),
            },
        )

        assert identified.json()["customer_id"] == known.pk
        assert Customer.objects.get(pk=anonymous["customer_id"]).external_id is None

    def test_same_external_id_in_two_business_lines_is_two_customers(self, api, line):
        BusinessLineFactory(key="bank", identity_secret="other")

        shop = post(api, {"business_line": "shop", "channel": "web", "external_id": "u", "identity_hash": sign("u")})
        bank = post(
            api, {"business_line": "bank", "channel": "web", "external_id": "u", "identity_hash": sign("u", "other")}
        )

        assert shop.json()["customer_id"] != bank.json()["customer_id"]

    @pytest.mark.parametrize("identity_hash", [None, "", "0" * 64, "not-hex-é", sign("u-1", "wrong-secret")])
    def test_wrong_or_missing_hash_is_refused_and_creates_nothing(self, api, line, identity_hash):
        anonymous = CustomerFactory(business_line=line)
        body = {
            "business_line": "shop",
            "channel": "web",
            "external_id": "u-1",
            "visitor_token": anonymous.visitor_token,
        }
        if identity_hash is not None:
            body["identity_hash"] = identity_hash

        response = post(api, body)

        assert response.status_code == 403
        assert response.json()["code"] == "identity_invalid"
        assert response.json()["message"]
        assert Customer.objects.count() == 1
        assert Customer.objects.get().external_id is None

    def test_hash_of_another_external_id_is_refused(self, api, line):
        response = post(
            api, {"business_line": "shop", "channel": "web", "external_id": "u-1", "identity_hash": sign("u-2")}
        )

        assert response.status_code == 403
        assert not Customer.objects.exists()

    def test_a_business_line_without_secret_verifies_nobody(self, api, line):
        line.identity_secret = ""
        line.save()

        response = post(
            api,
            {
                "business_line": "shop",
                "channel": "web",
                "external_id": "u",
                "identity_hash": hmac.new(b"", b"u", hashlib.sha256).hexdigest(),
            },
        )

        assert response.status_code == 403

    def test_selector_hash_matches_what_a_site_backend_computes(self, line):
        assert customer_identity_hash(business_line=line, external_id="u-1") == sign("u-1")


def sign_expiring(external_id: str, expires: int, secret: str = "s3cret") -> str:
    return hmac.new(secret.encode(), f"{external_id}:{expires}".encode(), hashlib.sha256).hexdigest()


class TestExpiringIdentity:
    """`identity_expires` (unix seconds) with `identity_hash` = HMAC-SHA256 of `external_id:identity_expires`."""

    def identify(self, api, expires, identity_hash=None, external_id="u-1"):
        return post(
            api,
            {
                "business_line": "shop",
                "channel": "web",
                "external_id": external_id,
                "identity_expires": expires,
                "identity_hash": identity_hash or sign_expiring(external_id, expires),
            },
        )

    def test_an_identity_valid_for_an_hour_is_the_same_customer_as_the_plain_form(self, api, line):
        plain = post(
            api, {"business_line": "shop", "channel": "web", "external_id": "u-1", "identity_hash": sign("u-1")}
        ).json()

        expiring = self.identify(api, int(time.time()) + 3600)

        assert expiring.status_code == 200
        assert expiring.json()["customer_id"] == plain["customer_id"]

    def test_an_expired_identity_is_refused_and_creates_nothing(self, api, line):
        response = self.identify(api, int(time.time()) - 1)

        assert response.status_code == 403
        assert response.json()["code"] == "identity_expired"
        assert response.json()["message"]
        assert not Customer.objects.exists()

    def test_an_identity_expiring_too_far_ahead_is_refused(self, api, line, settings):
        settings.CUSTOMER_IDENTITY_MAX_AGE = 3600

        response = self.identify(api, int(time.time()) + 3700)

        assert response.status_code == 403
        assert response.json()["code"] == "identity_invalid"
        assert not Customer.objects.exists()

    @pytest.mark.parametrize("tamper", ["plain hash", "other expiry"])
    def test_the_hash_must_cover_the_expiry(self, api, line, tamper):
        expires = int(time.time()) + 3600
        identity_hash = sign("u-1") if tamper == "plain hash" else sign_expiring("u-1", expires - 100)

        response = self.identify(api, expires, identity_hash=identity_hash)

        assert response.status_code == 403
        assert response.json()["code"] == "identity_invalid"

    def test_a_line_that_requires_expiring_identities_refuses_the_plain_form(self, api, line):
        line.identity_requires_expiry = True
        line.save()

        plain = post(
            api, {"business_line": "shop", "channel": "web", "external_id": "u-1", "identity_hash": sign("u-1")}
        )
        expiring = self.identify(api, int(time.time()) + 600)

        assert plain.status_code == 403
        assert plain.json()["code"] == "identity_invalid"
        assert "identity_expires" in plain.json()["message"]
        assert expiring.status_code == 201

    @pytest.mark.parametrize(
        "body",
        [
            {"identity_expires": "soon"},
            {"identity_expires": -5},
            {"identity_expires": 1893456000, "external_id": None, "identity_hash": None},
        ],
    )
    def test_a_bad_expiry_is_400(self, api, line, body):
        response = post(
            api, {"business_line": "shop", "channel": "web", "external_id": "u-1", "identity_hash": "ab", **body}
        )

        assert response.status_code == 400
        assert "identity_expires" in response.json()["errors"] or "external_id" in response.json()["errors"]


class TestReplayedIdentity:
    """What the customer said about themselves is never overwritten by a later session call; empty fields fill."""

    def test_a_replayed_identity_does_not_overwrite_name_or_email(self, api, line):
        body = {"business_line": "shop", "channel": "web", "external_id": "u-1", "identity_hash": sign("u-1")}
        post(api, {**body, "name": "Ada", "email": "ada@example.com"})

        replayed = post(api, {**body, "name": "Mallory", "email": "mallory@evil.example"})

        assert replayed.status_code == 200
        customer = Customer.objects.get()
        assert (customer.name, customer.email) == ("Ada", "ada@example.com")

    def test_a_returning_visitor_does_not_overwrite_them_either(self, api, line):
        first = post(api, {"business_line": "shop", "channel": "web", "name": "Ada", "email": "ada@example.com"}).json()

        post(
            api,
            {
                "business_line": "shop",
                "channel": "web",
                "visitor_token": first["visitor_token"],
                "name": "Mallory",
                "email": "mallory@evil.example",
            },
        )

        customer = Customer.objects.get()
        assert (customer.name, customer.email) == ("Ada", "ada@example.com")

    def test_empty_fields_are_filled(self, api, line):
        body = {"business_line": "shop", "channel": "web", "external_id": "u-1", "identity_hash": sign("u-1")}
        post(api, body)

        post(api, {**body, "name": "Ada", "email": "ada@example.com"})

        customer = Customer.objects.get()
        assert (customer.name, customer.email) == ("Ada", "ada@example.com")


class TestBadInput:
    def test_unknown_business_line_is_404_with_code(self, api, line):
        response = post(api, {"business_line": "nope", "channel": "web"})

        assert response.status_code == 404
        assert response.json()["code"] == "business_line_not_found"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"business_line": "shop", "channel": "fax"}, "channel"),
            ({"business_line": "shop"}, "channel"),
            ({"channel": "web"}, "business_line"),
            ({"business_line": "shop", "channel": "web", "email": "not-an-email"}, "email"),
            (
                {"business_line": "shop", "channel": "web", "external_id": "x" * 129, "identity_hash": "a"},
                "external_id",
            ),
            ({"business_line": "shop", "channel": "web", "identity_hash": "abc"}, "external_id"),
        ],
    )
    def test_bad_fields_are_400_with_a_message_and_create_nothing(self, api, line, body, field):
        response = post(api, body)

        assert response.status_code == 400
        assert response.json()["code"] == "invalid_request"
        assert response.json()["message"].startswith(field)
        assert field in response.json()["errors"]
        assert not Customer.objects.exists()

    def test_malformed_json_is_400(self, api, line):
        response = api.post(URL, "{not json", content_type="application/json")

        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"


class TestOrigin:
    def test_foreign_origin_is_refused(self, api, line):
        response = post(api, {"business_line": "shop", "channel": "web"}, Origin="https://evil.example")

        assert response.status_code == 403
        assert response.json()["code"] == "origin_forbidden"
        assert "Access-Control-Allow-Origin" not in response.headers
        assert not Customer.objects.exists()

    def test_allowed_origin_is_served_with_cors_headers(self, api, line):
        response = post(api, {"business_line": "shop", "channel": "web"}, Origin="https://www.shop.example")

        assert response.status_code == 201
        assert response.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"
        assert "Origin" in response.headers["Vary"]

    def test_origin_allowed_for_another_line_is_refused_here(self, api, line):
        BusinessLineFactory(key="bank", allowed_origins="https://bank.example")

        response = post(api, {"business_line": "shop", "channel": "web"}, Origin="https://bank.example")

        assert response.status_code == 403

    def test_the_products_own_pages_are_allowed(self, api, line):
        response = post(api, {"business_line": "shop", "channel": "h5"}, Origin="http://testserver")

        assert response.status_code == 201

    def test_no_origin_as_apps_send_is_allowed(self, api, line):
        response = post(api, {"business_line": "shop", "channel": "app"})

        assert response.status_code == 201

    def test_preflight_allows_the_post(self, api, line):
        response = api.options(
            URL, headers={"Origin": "https://www.shop.example", "Access-Control-Request-Method": "POST"}
        )

        assert response.status_code == 204
        assert "POST" in response.headers["Access-Control-Allow-Methods"]
        assert response.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"

    def test_no_csrf_token_or_cookie_is_needed(self, line):
        strict = APIClient(enforce_csrf_checks=True)

        response = post(strict, {"business_line": "shop", "channel": "web"})

        assert response.status_code == 201
        assert not response.cookies


class TestRateLimit:
    """`WIDGET_SESSION_RATE` (default 30/m) per client address and business line."""

    def test_past_the_default_rate_one_address_is_refused_with_429_and_retry_after(self, api, line):
        answers = [post(api, {"business_line": "shop", "channel": "web"}).status_code for _ in range(30)]

        refused = post(api, {"business_line": "shop", "channel": "web"})

        assert answers == [201] * 30
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["code"] == "rate_limited"
        assert "try again in" in refused.json()["message"]
        assert Customer.objects.count() == 30

    def test_the_refusal_is_in_the_requests_language(self, api, line, settings):
        settings.WIDGET_SESSION_RATE = "0/m"

        refused = post(api, {"business_line": "shop", "channel": "web"}, **{"Accept-Language": "zh-hans"})

        seconds = int(refused.headers["Retry-After"])
        with translation.override("zh-hans"):
            expected = " ".join(
                (
                    gettext("Too many chat sessions were opened from your network."),
                    ngettext("Please try again in %(count)s second.", "Please try again in %(count)s seconds.", seconds)
                    % {"count": seconds},
                )
            )
        assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
        assert refused.json()["message"] == expected
        assert not expected.startswith("Too many")

    def test_a_returning_visitor_counts_too_and_is_refused_without_a_new_customer(self, api, line, settings):
        settings.WIDGET_SESSION_RATE = "2/m"
        first = post(api, {"business_line": "shop", "channel": "web"}).json()
        post(api, {"business_line": "shop", "channel": "web", "visitor_token": first["visitor_token"]})

        refused = post(api, {"business_line": "shop", "channel": "web", "visitor_token": first["visitor_token"]})

        assert refused.status_code == 429
        assert Customer.objects.count() == 1

    def test_the_limit_is_per_address_and_per_business_line(self, line, settings):
        settings.WIDGET_SESSION_RATE = "1/m"
        BusinessLineFactory(key="bank")
        here, elsewhere = APIClient(REMOTE_ADDR="203.0.113.7"), APIClient(REMOTE_ADDR="198.51.100.9")
        assert post(here, {"business_line": "shop", "channel": "web"}).status_code == 201
        assert post(here, {"business_line": "shop", "channel": "web"}).status_code == 429

        assert post(here, {"business_line": "bank", "channel": "web"}).status_code == 201
        assert post(elsewhere, {"business_line": "shop", "channel": "web"}).status_code == 201

    def test_a_forwarded_for_header_is_ignored_unless_proxies_are_trusted(self, line, settings):
        settings.WIDGET_SESSION_RATE = "1/m"
        client = APIClient(REMOTE_ADDR="10.0.0.2")

        def status(forwarded_for: str) -> int:
            body = {"business_line": "shop", "channel": "web"}
            return post(client, body, **{"X-Forwarded-For": forwarded_for}).status_code

        assert status("1.1.1.1") == 201
        # a client cannot pick a fresh address by sending the header itself
        assert status("2.2.2.2") == 429

        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        # behind one trusted proxy, the address it saw is the client's
        assert status("3.3.3.3") == 201
        assert status("3.3.3.3") == 429

    def test_none_turns_the_limit_off(self, api, line, settings):
        settings.WIDGET_SESSION_RATE = None

        assert {post(api, {"business_line": "shop", "channel": "web"}).status_code for _ in range(5)} == {201}

    def test_an_allowed_origin_can_read_the_refusal(self, api, line, settings):
        settings.WIDGET_SESSION_RATE = "0/m"

        refused = post(api, {"business_line": "shop", "channel": "web"}, Origin="https://www.shop.example")

        assert refused.status_code == 429
        assert refused.headers["Access-Control-Allow-Origin"] == "https://www.shop.example"


class TestCustomerToken:
    def test_round_trip(self, line):
        customer = CustomerFactory(business_line=line)

        assert customer_from_token(token=customer_token_issue(customer=customer)) == customer

    @pytest.mark.parametrize(
        "mangle",
        [
            lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
            lambda t: str(int(t.split(":")[0]) + 1) + t[t.index(":") :],
            lambda t: "",
            lambda t: "garbage",
        ],
    )
    def test_forged_token_is_none(self, line, mangle):
        customer = CustomerFactory(business_line=line)
        CustomerFactory(business_line=line)

        assert customer_from_token(token=mangle(customer_token_issue(customer=customer))) is None

    def test_token_signed_for_another_purpose_is_none(self, line):
        customer = CustomerFactory(business_line=line)

        assert customer_from_token(token=signing.TimestampSigner().sign(str(customer.pk))) is None

    def test_expired_token_is_none(self, line, settings, monkeypatch):
        customer = CustomerFactory(business_line=line)
        settings.CUSTOMER_TOKEN_MAX_AGE = 60
        issued_at = int(time.time()) - 61
        monkeypatch.setattr(signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(issued_at))
        token = customer_token_issue(customer=customer)
        monkeypatch.undo()

        assert customer_from_token(token=token) is None

    def test_token_of_a_deleted_customer_is_none(self, line):
        customer = CustomerFactory(business_line=line)
        token = customer_token_issue(customer=customer)
        customer.delete()

        assert customer_from_token(token=token) is None

    def test_a_socket_gets_everything_it_needs_before_hello_in_one_query(self, line, django_assert_num_queries):
        # Given a customer with a waiting and a closed conversation, of a line whose team has two online agents
        # (one of another line too) and one offline agent
        customer = CustomerFactory(business_line=line, attributes={"plan": "gold"})
        waiting = ConversationFactory(customer=customer, business_line=line, status=ConversationStatus.WAITING)
        ConversationFactory(customer=customer, business_line=line, status=ConversationStatus.CLOSED)
        online = [AgentFactory(business_lines=[line], presence=Presence.ONLINE) for _ in range(2)]
        online[1].business_lines.add(BusinessLineFactory())
        AgentFactory(business_lines=[line], presence=Presence.OFFLINE)
        AgentFactory(business_lines=[BusinessLineFactory()], presence=Presence.ONLINE)
        token = customer_token_issue(customer=customer)

        # When a socket reads it
        with django_assert_num_queries(1):
            found = customer_for_socket(token=token)

        # Then it has the customer (JSON fields decoded) with their line, the line's online agents and the open
        # conversation, from that one query
        assert found.customer == customer and found.customer.attributes == {"plan": "gold"}
        with django_assert_num_queries(0):
            assert found.customer.business_line == line
            assert found.customer.business_line.allowed_origin_list == line.allowed_origin_list
        assert found.online_agent_ids == sorted(agent.id for agent in online)
        assert found.open_conversation_ids == [waiting.id]


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_first_sessions_with_one_external_id_make_one_customer():
    line = BusinessLineFactory(identity_secret="s3cret")
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            session = customer_session_start(
                business_line=line, channel="app", external_id="racer", identity_hash=sign("racer")
            )
            results.append(session.customer.pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(set(results)) == 1
    assert Customer.objects.filter(external_id="racer").count() == 1


def test_service_refuses_a_wrong_hash_directly(line):
    with pytest.raises(IdentityInvalid):
        customer_session_start(business_line=line, channel="web", external_id="u", identity_hash="00")
