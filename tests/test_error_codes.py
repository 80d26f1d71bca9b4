"""One error-code enum (`cs_platform.errors.ErrorCode`) for frames, REST and the erasure command, and the table of
docs/protocol.md ("Errors") listing exactly its members: a code added to one and not the other fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from rest_framework import exceptions

from cs_platform.errors import ErrorCode

BASE_DIR = Path(__file__).resolve().parent.parent
APPS = ("agents", "audit", "chat", "cs_platform", "customers", "privacy", "routing")


def documented_codes() -> list[str]:
    """The first cell of every row (below the header) of the table under `## Errors` in docs/protocol.md."""
    text = (BASE_DIR / "docs" / "protocol.md").read_text()
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    rows = section.split("\n|---|", 1)[1]
    return re.findall(r"^\| `([a-z_]+)` \|", rows, flags=re.MULTILINE)


def test_every_documented_code_is_in_the_enum():
    assert sorted(set(documented_codes()) - {code.value for code in ErrorCode}) == []


def test_every_code_of_the_enum_is_documented():
    assert sorted({code.value for code in ErrorCode} - set(documented_codes())) == []


def test_the_table_is_found_and_read():
    # a broken table (a renamed heading) must not pass the two tests above by finding nothing on either side
    assert documented_codes()[:3] == ["invalid_json", "unknown_type", "invalid_field"]


def test_drf_refusals_that_reach_clients_carry_codes_of_the_enum():
    # the REST handler passes DRF's own codes on (a body that is not JSON, a wrong method...)
    raised_by_drf = [
        exceptions.ParseError,
        exceptions.AuthenticationFailed,
        exceptions.NotAuthenticated,
        exceptions.PermissionDenied,
        exceptions.NotFound,
        exceptions.MethodNotAllowed,
        exceptions.NotAcceptable,
        exceptions.UnsupportedMediaType,
    ]
    assert [ErrorCode(exception.default_code) for exception in raised_by_drf] == [
        ErrorCode.PARSE_ERROR,
        ErrorCode.AUTHENTICATION_FAILED,
        ErrorCode.NOT_AUTHENTICATED,
        ErrorCode.PERMISSION_DENIED,
        ErrorCode.NOT_FOUND,
        ErrorCode.METHOD_NOT_ALLOWED,
        ErrorCode.NOT_ACCEPTABLE,
        ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ]


def test_no_app_defines_an_error_code_enum_of_its_own():
    enums = []
    for app in APPS:
        for path in sorted((BASE_DIR / app).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ClassDef) and node.name.endswith("ErrorCode"):
                    enums.append(f"{path.relative_to(BASE_DIR)}:{node.name}")
    assert enums == ["cs_platform/errors.py:ErrorCode"]
