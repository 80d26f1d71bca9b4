"""`POST /api/auth/token/`: agents trade credentials for an API token; nobody else gets one."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import AgentFactory, UserFactory

URL = "/api/auth/token/"

pytestmark = pytest.mark.django_db


@pytest.fixture
def api() -> APIClient:
    return APIClient(enforce_csrf_checks=True)


def test_agent_gets_a_token_and_their_agent_id(api):
    agent = AgentFactory(user=UserFactory(username="ann"))

    response = api.post(URL, {"username": "ann", "password": "pw"}, format="json")

    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=agent.user).key, "agent_id": agent.pk}


def test_asking_again_returns_the_same_token(api):
    AgentFactory(user=UserFactory(username="ann"))

    first = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()
    second = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()

    assert first == second
    assert Token.objects.count() == 1


def test_the_token_authenticates_by_header_and_by_query(api):
    AgentFactory(user=UserFactory(username="ann"))
    token = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()["token"]
    url = "/api/customers/0/conversations/"

    by_header = APIClient().get(url, headers={"Authorization": f"Token {token}"})
    by_query = APIClient().get(url, {"token": token})
    without = APIClient().get(url)

    assert (by_header.status_code, by_query.status_code) == (404, 404)
    assert without.status_code == 401


def test_a_user_who_is_not_an_agent_is_refused(api):
    UserFactory(username="boss", is_staff=True, is_superuser=True)

    response = api.post(URL, {"username": "boss", "password": "pw"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "not_an_agent"
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"username": "ann", "password": "wrong"}, "invalid_credentials"),
        ({"username": "nobody", "password": "pw"}, "invalid_credentials"),
        ({"username": "ann", "password": ""}, "invalid_request"),
        ({"username": "ann"}, "invalid_request"),
    ],
)
def test_bad_credentials_are_refused_with_a_message(api, body, code):
    AgentFactory(user=UserFactory(username="ann"))

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]
    assert not Token.objects.exists()


def test_an_inactive_agent_is_refused(api):
    AgentFactory(user=UserFactory(username="gone", is_active=False))

    response = api.post(URL, {"username": "gone", "password": "pw"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


class TestLoginRate:
    """`LOGIN_RATE` (default 10/m) per username and per address, with lock-out; shared with the admin's login."""

    def test_past_the_default_rate_even_the_right_password_is_refused(self, api):
        AgentFactory(user=UserFactory(username="ann"))
        wrong = [api.post(URL, {"username": "ann", "password": f"guess{n}"}, format="json").status_code
                 for n in range(10)]

        refused = api.post(URL, {"username": "ann", "password": "pw"}, format="json")

        assert wrong == [400] * 10
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert refused.json()["code"] == "rate_limited"
        assert "try again in" in refused.json()["message"]

    def test_the_limit_follows_the_username_across_addresses(self, settings):
        settings.LOGIN_RATE = "2/m"
        AgentFactory(user=UserFactory(username="ann"))
        for n in range(2):
            APIClient(REMOTE_ADDR=f"198.51.100.{n}").post(URL, {"username": "ann", "password": "x"}, format="json")

        refused = APIClient(REMOTE_ADDR="203.0.113.9").post(URL, {"username": "ann", "password": "pw"}, format="json")

        assert refused.status_code == 429

    def test_the_limit_follows_the_address_across_usernames(self, api, settings):
        settings.LOGIN_RATE = "2/m"
        AgentFactory(user=UserFactory(username="ann"))
        for name in ("bob", "cy"):
            api.post(URL, {"username": name, "password": "x"}, format="json")

        refused = api.post(URL, {"username": "ann", "password": "pw"}, format="json")
        elsewhere = APIClient(REMOTE_ADDR="203.0.113.9").post(URL, {"username": "ann", "password": "pw"}, format="json")

        assert refused.status_code == 429
        assert elsewhere.status_code == 200

    def test_admin_logins_and_token_logins_share_one_count(self, api, client, settings):
        settings.LOGIN_RATE = "4/m"
        AgentFactory(user=UserFactory(username="ann", is_staff=True))
        for n in range(2):
            api.post(URL, {"username": "ann", "password": f"guess{n}"}, format="json")
            client.post("/admin/login/", {"username": "ann", "password": f"guess{n}"})

        by_token = api.post(URL, {"username": "ann", "password": "pw"}, format="json")

        assert by_token.status_code == 429

    def test_none_turns_the_limit_off(self, api, settings):
        settings.LOGIN_RATE = "none"
        AgentFactory(user=UserFactory(username="ann"))
        for n in range(12):
            api.post(URL, {"username": "ann", "password": f"guess{n}"}, format="json")

        assert api.post(URL, {"username": "ann", "password": "pw"}, format="json").status_code == 200
