"""The OpenAPI schema: generated without warnings, listing the REST API, and true to what the API answers."""

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone
from jsonschema import Draft202012Validator
from rest_framework.test import APIClient

from agents.services import api_token_issue
from chat.models import ConversationStatus, Sender
from tests.factories import (
    AgentFactory,
    BusinessLineFactory,
    ConversationFactory,
    CustomerFactory,
    MessageFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

OUR_OPERATIONS = {
    ("/api/widget/session/", "post"),
    ("/api/auth/token/", "post"),
    ("/api/customers/{customer_id}/conversations/", "get"),
    ("/api/conversations/{conversation_id}/messages/", "get"),
    ("/api/conversations/{conversation_id}/attachments/", "post"),
    ("/api/attachments/{attachment_id}/download/", "get"),
    ("/api/attachments/{attachment_id}/thumbnail/", "get"),
    ("/api/reports/summary/", "get"),
    ("/api/reports/conversations/", "get"),
    ("/api/monitor/", "get"),
    ("/api/canned-replies/", "get"),
    ("/api/canned-replies/", "post"),
    ("/api/canned-replies/{reply_id}/", "patch"),
    ("/api/canned-replies/{reply_id}/", "delete"),
    ("/api/canned-replies/{reply_id}/attachments/", "post"),
    ("/api/canned-replies/{reply_id}/use/", "post"),
    ("/api/conversations/{conversation_id}/labels/", "get"),
    ("/api/conversations/{conversation_id}/labels/", "put"),
    ("/api/customers/{customer_id}/notes/", "get"),
    ("/api/customers/{customer_id}/notes/", "post"),
    ("/api/search/", "get"),
}


@pytest.fixture
def schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: `nullable` becomes a null alternative; objects admit no undeclared keys."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    if converted.get("type") == "object" and "properties" in converted:
        converted.setdefault("additionalProperties", False)
    if node.get("nullable"):
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def validator_for(schema: dict[str, Any], path: str, method: str, status: int) -> Draft202012Validator:
    body = schema["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
    return Draft202012Validator({**as_json_schema(body), "components": as_json_schema(schema["components"])})


def test_schema_lists_every_operation_of_the_rest_api(schema):
    listed = {(path, method) for path, operations in schema["paths"].items() for method in operations}

    assert listed >= OUR_OPERATIONS


def test_history_documents_every_way_an_agent_authenticates(schema):
    security = schema["paths"]["/api/conversations/{conversation_id}/messages/"]["get"]["security"]

    assert security == [{"tokenAuth": []}, {"tokenQuery": []}, {"cookieAuth": []}]
    assert schema["components"]["securitySchemes"]["tokenQuery"] == {"type": "apiKey", "in": "query", "name": "token"}


def test_widget_session_and_auth_token_need_no_credentials(schema):
    assert schema["paths"]["/api/widget/session/"]["post"]["security"] == [{}]
    assert schema["paths"]["/api/auth/token/"]["post"]["security"] == [{}]


def test_schema_generates_and_validates_without_warnings():
    out = StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", stdout=out, stderr=StringIO())

    assert "/api/conversations/{conversation_id}/messages/" in out.getvalue()


def test_docs_page_loads_only_from_this_site():
    api = APIClient()
    html = api.get("/api/docs/").content.decode()
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)

    assert urls
    assert not re.search(r"https?://|//[a-z]", html.replace("http://testserver", ""), re.IGNORECASE)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//")
        assert api.get(url).status_code == 200, url


def test_real_answers_match_the_schema(schema, settings):
    line = BusinessLineFactory(key="shop", identity_secret="s")
    agent = AgentFactory(business_lines=[line])
    customer = CustomerFactory(business_line=line, external_id="u-1")
    started = timezone.now() - timedelta(days=1)
    closed = ConversationFactory(
        customer=customer,
        status=ConversationStatus.CLOSED,
        started_at=started,
        closed_at=started + timedelta(minutes=3),
        close_reason="agent",
        agent=agent,
    )
    ConversationFactory(customer=customer, status=ConversationStatus.WAITING)
    MessageFactory(conversation=closed, seq=1, sender=Sender.CUSTOMER, client_msg_id="c1")
    MessageFactory(conversation=closed, seq=2, sender=Sender.SYSTEM, event="assigned", body="")
    MessageFactory(conversation=closed, seq=3, sender=Sender.AGENT, agent=agent, is_internal_note=True)
    agent.user.set_password("pw")
    agent.user.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent.user)}")
    limited = APIClient(REMOTE_ADDR="203.0.113.9")

    answers = [
        (
            "/api/widget/session/",
            "post",
            APIClient().post("/api/widget/session/", {"business_line": "shop", "channel": "web"}, format="json"),
        ),
        (
            "/api/widget/session/",
            "post",
            APIClient().post("/api/widget/session/", {"business_line": "nope", "channel": "web"}, format="json"),
        ),
        (
            "/api/widget/session/",
            "post",
            APIClient().post("/api/widget/session/", {"business_line": "shop", "channel": "fax"}, format="json"),
        ),
        (
            "/api/auth/token/",
            "post",
            APIClient().post("/api/auth/token/", {"username": agent.user.username, "password": "pw"}, format="json"),
        ),
        ("/api/customers/{customer_id}/conversations/", "get", api.get(f"/api/customers/{customer.pk}/conversations/")),
        ("/api/conversations/{conversation_id}/messages/", "get", api.get(f"/api/conversations/{closed.pk}/messages/")),
        ("/api/conversations/{conversation_id}/messages/", "get", api.get("/api/conversations/0/messages/")),
        ("/api/conversations/{conversation_id}/messages/", "get", APIClient().get("/api/conversations/0/messages/")),
    ]
    settings.LOGIN_RATE, settings.WIDGET_SESSION_RATE = "0/m", "0/m"
    answers += [
        (
            "/api/auth/token/",
            "post",
            limited.post("/api/auth/token/", {"username": agent.user.username, "password": "pw"}, format="json"),
        ),
        (
            "/api/widget/session/",
            "post",
            limited.post("/api/widget/session/", {"business_line": "shop", "channel": "web"}, format="json"),
        ),
    ]

    assert [response.status_code for *_, response in answers] == [201, 404, 400, 200, 200, 200, 404, 401, 429, 429]
    for path, method, response in answers:
        errors = list(validator_for(schema, path, method, response.status_code).iter_errors(response.json()))
        assert errors == [], (path, response.status_code, [e.message for e in errors])


def test_supervisors_answers_match_the_schema(schema):
    line = BusinessLineFactory(key="shop")
    agent = AgentFactory(business_lines=[line])
    started = timezone.now() - timedelta(hours=1)
    ConversationFactory(
        customer=CustomerFactory(business_line=line),
        status=ConversationStatus.CLOSED,
        agent=agent,
        started_at=started,
        first_assigned_at=started + timedelta(seconds=5),
        first_agent_reply_at=started + timedelta(seconds=9),
        closed_at=started + timedelta(minutes=3),
        close_reason="agent",
        rating=4,
    )
    ConversationFactory(customer=CustomerFactory(business_line=line), status=ConversationStatus.WAITING)
    supervisor = UserFactory(is_superuser=True)
    api = APIClient()
    api.force_login(supervisor)
    period = {"business_line": "shop", "since": (started - timedelta(days=1)).isoformat(), "until": "2100-01-01"}

    answers = [
        ("/api/reports/summary/", api.get("/api/reports/summary/", period)),
        ("/api/reports/conversations/", api.get("/api/reports/conversations/", period)),
        ("/api/monitor/", api.get("/api/monitor/", {"business_line": "shop"})),
        ("/api/monitor/", api.get("/api/monitor/", {"business_line": "nope"})),
        ("/api/reports/summary/", api.get("/api/reports/summary/", {"business_line": "shop"})),
        ("/api/reports/summary/", APIClient().get("/api/reports/summary/", period)),
    ]
    agent_api = APIClient()
    agent_api.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=agent.user)}")
    answers.append(("/api/monitor/", agent_api.get("/api/monitor/", {"business_line": "shop"})))

    assert [response.status_code for _, response in answers] == [200, 200, 200, 404, 400, 401, 403]
    assert len(answers[1][1].json()["results"]) == 2
    for path, response in answers:
        errors = list(validator_for(schema, path, "get", response.status_code).iter_errors(response.json()))
        assert errors == [], (path, response.status_code, [e.message for e in errors])


@pytest.mark.parametrize("path", ["/api/reports/summary/", "/api/reports/conversations/"])
def test_the_reports_document_their_period_and_business_hours_switch(schema, path):
    parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

    assert {"business_line", "since", "until", "business_hours_only"} <= set(parameters)
    assert parameters["business_hours_only"]["schema"] == {"type": "boolean"}
    assert parameters["business_hours_only"].get("required", False) is False
