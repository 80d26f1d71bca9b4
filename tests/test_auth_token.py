"""`POST /api/auth/token/`: agents and supervisors trade credentials for an API token; nobody else gets one. Tokens
expire, and die with a password change or a deactivation."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from agents.models import ApiToken
from agents.selectors import agent_for_api_token
from audit.models import AuditAction, AuditEntry
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
    assert set(response.json()) == {"token", "agent_id"}
    assert response.json()["agent_id"] == agent.pk
    assert agent_for_api_token(token=response.json()["token"]) == agent


def test_asking_again_returns_a_fresh_token_and_the_first_still_works(api):
    agent = AgentFactory(user=UserFactory(username="ann"))

    first = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()
    second = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()

    assert first["token"] != second["token"]
    assert agent_for_api_token(token=first["token"]) == agent_for_api_token(token=second["token"]) == agent


def test_the_token_authenticates_by_header_and_by_query(api):
    AgentFactory(user=UserFactory(username="ann"))
    token = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()["token"]
    url = "/api/customers/0/conversations/"

    by_header = APIClient().get(url, headers={"Authorization": f"Token {token}"})
    by_query = APIClient().get(url, {"token": token})
    without = APIClient().get(url)

    assert (by_header.status_code, by_query.status_code) == (404, 404)
    assert without.status_code == 401


def test_a_user_who_is_neither_an_agent_nor_a_supervisor_is_refused(api):
    UserFactory(username="boss", is_staff=True)

    response = api.post(URL, {"username": "boss", "password": "pw"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "not_an_agent"
    assert not response.json().get("token")


@pytest.mark.parametrize("supervisor", ["group", "superuser"])
def test_a_supervisor_who_is_not_an_agent_gets_a_token_without_agent_id(api, supervisor):
    # Given a member of the Supervisors group, or a superuser, with no agent profile
    user = UserFactory(username="boss", is_staff=True, is_superuser=supervisor == "superuser")
    if supervisor == "group":
        user.groups.add(Group.objects.get_or_create(name="Supervisors")[0])

    response = api.post(URL, {"username": "boss", "password": "pw"}, format="json")

    # Then a token that reads the reports, and no agent
    assert response.status_code == 200
    assert response.json()["agent_id"] is None
    reports = APIClient().get(
        "/api/monitor/", {"business_line": "nope"}, HTTP_AUTHORIZATION=f"Token {response.json()['token']}"
    )
    assert reports.json()["code"] == "business_line_not_found"
    assert agent_for_api_token(token=response.json()["token"]) is None


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
    assert "token" not in response.json()


def test_an_inactive_agent_is_refused(api):
    AgentFactory(user=UserFactory(username="gone", is_active=False))

    response = api.post(URL, {"username": "gone", "password": "pw"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"


class TestTokenLifetime:
    """`AGENT_TOKEN_TTL` (default 12 h); a password change or a deactivation revokes every token of the user."""

    HISTORY = "/api/customers/0/conversations/"

    def login(self, api, password="pw"):
        return api.post(URL, {"username": "ann", "password": password}, format="json").json()["token"]

    def works(self, token) -> bool:
        status = APIClient().get(self.HISTORY, headers={"Authorization": f"Token {token}"}).status_code
        assert status in (401, 404)
        return status == 404

    def test_a_token_expires_after_the_ttl_and_the_next_login_gives_a_fresh_one(self, api, settings, monkeypatch):
        settings.AGENT_TOKEN_TTL = 3600
        agent = AgentFactory(user=UserFactory(username="ann"))
        token = self.login(api)
        issued = timezone.now()
        assert self.works(token)

        monkeypatch.setattr(timezone, "now", lambda: issued + timedelta(seconds=3601))

        assert not self.works(token)
        assert APIClient().get(self.HISTORY, {"token": token}).status_code == 401
        assert agent_for_api_token(token=token) is None  # the agent socket's check
        fresh = self.login(api)
        assert fresh != token and self.works(fresh)
        assert agent_for_api_token(token=fresh) == agent

    def test_a_password_change_revokes_the_token(self, api):
        agent = AgentFactory(user=UserFactory(username="ann"))
        token = self.login(api)

        agent.user.set_password("a new secret")
        agent.user.save()

        assert not self.works(token)
        assert agent_for_api_token(token=token) is None
        assert self.works(self.login(api, password="a new secret"))

    def test_a_password_changed_on_the_admins_form_revokes_the_token(self, api, client):
        agent = AgentFactory(user=UserFactory(username="ann"))
        token = self.login(api)
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

        changed = client.post(
            f"/admin/auth/user/{agent.user.pk}/password/",
            {"password1": "Another-secret-42", "password2": "Another-secret-42", "usable_password": "true"},
        )

        assert changed.status_code == 302
        assert not self.works(token)

    def test_a_deactivated_user_or_a_removed_agent_profile_revokes_the_token(self, api):
        agent = AgentFactory(user=UserFactory(username="ann"))
        token = self.login(api)
        agent.user.is_active = False
        agent.user.save()

        assert not self.works(token)
        assert agent_for_api_token(token=token) is None

        agent.user.is_active = True
        agent.user.save()
        agent.delete()

        assert agent_for_api_token(token=token) is None

    def test_only_a_digest_of_the_token_is_stored(self, api):
        from django.db import connection

        AgentFactory(user=UserFactory(username="ann"))
        token = self.login(api)

        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM agents_apitoken")
            rows = cursor.fetchall()
        assert rows and not any(token in str(value) for row in rows for value in row)


class TestLoginRate:
    """`LOGIN_RATE` (default 10/m) per username and per address, with lock-out; shared with the admin's login."""

    def test_past_the_default_rate_even_the_right_password_is_refused(self, api):
        AgentFactory(user=UserFactory(username="ann"))
        wrong = [
            api.post(URL, {"username": "ann", "password": f"guess{n}"}, format="json").status_code for n in range(10)
        ]

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


def test_the_admin_lists_tokens_with_their_expiry_and_deleting_one_revokes_it(api, client):
    AgentFactory(user=UserFactory(username="ann"))
    token = api.post(URL, {"username": "ann", "password": "pw"}, format="json").json()["token"]
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))

    listed = client.get("/admin/agents/apitoken/")
    row = ApiToken.objects.get()
    deleted = client.post(f"/admin/agents/apitoken/{row.pk}/delete/", {"post": "yes"})

    assert listed.status_code == 200 and b"ann" in listed.content
    assert token.encode() not in listed.content
    assert deleted.status_code == 302
    assert agent_for_api_token(token=token) is None
    assert AuditEntry.objects.filter(action=AuditAction.ADMIN_DELETE, target_id=str(row.pk)).exists()
