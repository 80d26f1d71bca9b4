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
