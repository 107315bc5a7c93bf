"""Who is signed in: the API key in a cookie, and the CSRF token that every form carries.

The cookie holds the key itself (HttpOnly: page scripts cannot read it; SameSite=Strict: no
other site's page can make the browser send it; Secure when served over https; Path=/console).
Nothing is stored server-side, so any API replica serves any signed-in browser, and revoking the
key signs it out everywhere on the next request.

The CSRF token is HMAC-SHA256(key, "outlast-console-csrf"): the same on every replica with no
shared secret, useless without the key, and it reveals nothing of it. Every POST must carry it
(`csrf` form field) as well as the cookie. The key is never written into a page.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "outlast_console_key"
SIGN_IN_COOKIE = "outlast_console_sign_in"
PATH = "/console"
CSRF_CONTEXT = b"outlast-console-csrf"


@dataclass(frozen=True)
class Caller:
    """The signed-in key as the API sees it (tenant, name and scopes; never its secret)."""

    key: str
    key_id: str
    tenant: str
    name: str | None
    scopes: frozenset[str]

    def holds(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    @property
    def csrf(self) -> str:
        return csrf_token(self.key)


def csrf_token(key: str) -> str:
    return hmac.new(key.encode(), CSRF_CONTEXT, hashlib.sha256).hexdigest()


def csrf_ok(key: str, sent: str | None) -> bool:
    return sent is not None and hmac.compare_digest(csrf_token(key), sent)


def key_of(request: Request) -> str | None:
    return request.cookies.get(COOKIE)


def remember(response: Response, request: Request, key: str) -> None:
    response.set_cookie(
        COOKIE,
        key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PATH,
        max_age=12 * 3600,
    )


def forget(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="strict")


def remember_sign_in(response: Response, request: Request, token: str) -> None:
    """The sign-in form's CSRF token, for the POST to compare with its hidden field."""
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path=PATH,
        max_age=3600,
    )
