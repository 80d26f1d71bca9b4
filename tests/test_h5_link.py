"""The H5 page's signed link (docs/app.md, "A signed H5 link"): checked by the session's own identity rule, a
refused one said on the page; and the examples a site's back end copies (examples/h5_link.py, h5_link.js) make
links the server accepts."""

import hashlib
import hmac
import subprocess
import sys
import time
from urllib.parse import parse_qsl, urlsplit

import pytest
from rest_framework.test import APIClient

from cs_platform.stack import BASE_DIR
from customers.models import Customer
from examples.h5_link import h5_link, signed_identity
from tests.factories import BusinessLineFactory

pytestmark = pytest.mark.django_db

SECRET = "link-secret"
EXPIRED = "This chat link has expired. Go back and open the chat again for a new link."
INVALID = "This chat link is not valid. Go back and open the chat again from the site or app that gave it."


@pytest.fixture
def line():
    return BusinessLineFactory(key="shop", identity_secret=SECRET)


def page_config(client, link: str) -> tuple[int, dict]:
    parts = urlsplit(link)
    response = client.get(parts.path, dict(parse_qsl(parts.query)))
    return response.status_code, response.context["config"]


def test_a_signed_link_opens_the_page_with_its_identity(client, line):
    link = h5_link("http://testserver", "shop", SECRET, "user-42", ttl=600, name="Ada")

    status, config = page_config(client, link)

    assert status == 200
    assert config["identity_refused"] is None
    sent = dict(parse_qsl(urlsplit(link).query))
    assert config["identity"] == {
        "external_id": "user-42",
        "identity_expires": sent["identity_expires"],
        "identity_hash": sent["identity_hash"],
        "name": "Ada",
    }


@pytest.mark.parametrize(
    ("ttl", "change", "message"),
    [
        (-60, {}, EXPIRED),
        (600, {"external_id": "user-43"}, INVALID),
        (600, {"identity_hash": "0" * 64}, INVALID),
        (600, {"identity_expires": "soon"}, INVALID),
        (600, {"external_id": ""}, INVALID),
        (10 * 86400, {}, INVALID),
    ],
    ids=["expired", "someone-else", "forged-hash", "bad-expiry", "no-user", "expiry-too-far"],
)
def test_an_expired_or_forged_link_is_refused_with_its_message(client, line, ttl, change, message):
    fields = {"business_line": "shop", **signed_identity(SECRET, "user-42", ttl=ttl), **change}

    response = client.get("/h5/", fields)

    assert response.status_code == 403
    assert response.context["config"]["identity_refused"] == message
    assert response.context["config"]["identity"] == {}
    assert Customer.objects.count() == 0


def test_a_link_whose_identity_does_not_expire_is_refused(client, line):
    # The plain HMAC of the external id works for ever once seen: a link may not carry it
    plain = hmac.new(SECRET.encode(), b"user-42", hashlib.sha256).hexdigest()

    response = client.get("/h5/", {"business_line": "shop", "external_id": "user-42", "identity_hash": plain})

    assert response.status_code == 403
    assert response.context["config"]["identity_refused"] == INVALID


def test_a_page_without_an_identity_is_anonymous(client, line):
    status, config = page_config(client, "http://testserver/h5/?business_line=shop")

    assert (status, config["identity"], config["identity_refused"]) == (200, {}, None)


@pytest.mark.parametrize(
    "command",
    [["node", "examples/h5_link.js"], [sys.executable, "examples/h5_link.py"]],
    ids=["node", "python"],
)
def test_the_example_signers_links_are_accepted_by_the_page_and_the_session(client, line, command):
    # When a site's back end runs the example for its user
    output = subprocess.run(
        [
            *command,
            *("--base", "https://chat.example.com/", "--business-line", "shop", "--secret", SECRET),
            *("--user", "wx-openid-7", "--ttl", "300", "--name", "Bo Li"),
        ],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.strip()

    # Then the link is the H5 page's, with an identity that expires in 300 s
    assert output.startswith("https://chat.example.com/h5/?business_line=shop&external_id=wx-openid-7&")
    fields = dict(parse_qsl(urlsplit(output).query))
    assert abs(int(fields["identity_expires"]) - (int(time.time()) + 300)) <= 5
    # ... which the page accepts
    status, config = page_config(client, output)
    assert (status, config["identity_refused"]) == (200, None)
    # ... and which opens a session as that user, as the page's script sends it
    session = APIClient().post(
        "/api/widget/session/", {**config["identity"], "business_line": "shop", "channel": "h5"}, format="json"
    )
    assert session.status_code == 201, session.json()
    customer = Customer.objects.get(pk=session.json()["customer_id"])
    assert (customer.external_id, customer.name) == ("wx-openid-7", "Bo Li")
