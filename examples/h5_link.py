"""Your site's back end, in Python: a signed link to the H5 chat page for a logged-in user (docs/app.md).

Put the link behind a WeChat menu entry or open it in your app's web view; it opens the chat as that user, with
their history, until it expires. Needs only the standard library; the secret is the business line's identity
secret (admin, Business lines) and never leaves your server.

    python examples/h5_link.py --base https://chat.example.com --business-line demo --secret SECRET --user user-42
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import time
from urllib.parse import urlencode


def signed_identity(secret: str, external_id: str, *, ttl: int = 600, now: float | None = None) -> dict[str, str]:
    """`external_id`, `identity_expires` (unix seconds, `ttl` ahead) and `identity_hash`: the hex HMAC-SHA256 of
    `external_id:identity_expires` with the secret. The same three fields open an app's widget session."""
    expires = int(time.time() if now is None else now) + ttl
    digest = hmac.new(secret.encode(), f"{external_id}:{expires}".encode(), hashlib.sha256).hexdigest()
    return {"external_id": external_id, "identity_expires": str(expires), "identity_hash": digest}


def h5_link(
    base: str, business_line: str, secret: str, external_id: str, *, ttl: int = 600, name: str = "", email: str = ""
) -> str:
    """The H5 page's address for this user (`name` and `email` fill their customer record's empty fields)."""
    params = {"business_line": business_line, **signed_identity(secret, external_id, ttl=ttl)}
    params.update({key: value for key, value in (("name", name), ("email", email)) if value})
    return f"{base.rstrip('/')}/h5/?{urlencode(params)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the chat's address, e.g. https://chat.example.com")
    parser.add_argument("--business-line", required=True, help="the business line's widget key")
    parser.add_argument("--secret", required=True, help="the business line's identity secret")
    parser.add_argument("--user", required=True, help="your user's id (the customer's external_id)")
    parser.add_argument("--ttl", type=int, default=600, help="seconds the link works (default 600)")
    parser.add_argument("--name", default="")
    parser.add_argument("--email", default="")
    args = parser.parse_args()
    print(
        h5_link(args.base, args.business_line, args.secret, args.user, ttl=args.ttl, name=args.name, email=args.email)
    )


if __name__ == "__main__":
    main()
