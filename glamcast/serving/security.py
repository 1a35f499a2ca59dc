"""Who may call what: API keys with scopes, the rate limit of ingest keys, person-bound tokens.

Every router is included in `glamcast.serving.app` with one `Access` dependency naming the
scopes that may call it; the table of routes and scopes is in docs/serving.md ("Keys and
scopes"), and `tests/unit/serving/test_auth_matrix.py` checks every route of the app against it.

Scopes (`KeyScope`): `ingest` (the ingest gateway; what an app or a browser page embeds, so it is
public in effect: rate-limited per key), `service` (feeds, person-bound feed tokens), `marketing`
(the dashboard, the trends API), `metrics` (`/metrics`), `admin` (every route). `admin` implies
every other scope; no other scope implies one.

Credentials, one of:

- ``X-API-Key: <key>``: apps, services, the scraper. Keys are stored in the settings as SHA-256
  hashes; a presented key is hashed and compared with every stored hash in constant time.
- ``Authorization: Basic base64(<any name>:<key>)``: a browser opening the dashboard (a 401 on
  that page asks the browser for it: the password is the key).
- ``Authorization: Bearer <person token>``: `GET /v1/feed/{user_id}` only, for the one person
  the token was issued for (`POST /v1/feed-tokens`, `service` scope): what a page such as
  `/mirror` holds to read the feed of the person using it, and nobody else's.

Answers: more than one `X-API-Key` or `Authorization` header → 400; no credential, an unknown
key, or a bad or expired token → 401 with `WWW-Authenticate`; a known key without the scope, or
a token for another person → 403; an `ingest` key over its rate → 429 with `Retry-After`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from glamcast.core.settings import ApiKey, KeyScope, Profile, Settings, api_key_sha256

API_KEY_HEADER_NAME = "X-API-Key"
REALM = "glamcast"
TOKEN_PREFIX = "gcp1"  # glamcast person token, version 1
FEED_READ = "feed:read"  # what a person token allows; a new person-bound scope adds a value
MAX_TOKEN_CHARS = 2048

#: In the OpenAPI document: the key header as a security scheme (the "Authorize" button of /docs).
api_key_header = APIKeyHeader(
    name=API_KEY_HEADER_NAME, auto_error=False, scheme_name="ApiKey",
    description="An API key; `glamcast keys new` makes one. Scopes: docs/serving.md.",
)

#: Documented on every protected route (`responses=` of its router's include).
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "More than one X-API-Key or Authorization header."},
    401: {"description": "No credential, an unknown key, or a bad or expired token "
                         "(`WWW-Authenticate` names the accepted schemes)."},
    403: {"description": "The key's scope may not call this route."},
}
RATE_LIMITED_RESPONSES: dict[int | str, dict[str, Any]] = {
    **AUTH_RESPONSES,
    429: {"description": "The ingest key is over its rate; retry after `Retry-After` seconds.",
          "headers": {"Retry-After": {"schema": {"type": "integer"},
                                      "description": "Seconds until a request is allowed."}}},
}


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's name and scope, or the person a token is bound to."""

    name: str
    scope: KeyScope | None = None
    person: str | None = None


def allows(held: KeyScope, needed: frozenset[KeyScope]) -> bool:
    """Whether a key of scope `held` may call a route open to `needed` (admin: everything)."""
    return held is KeyScope.ADMIN or held in needed


# --- keys ---------------------------------------------------------------------------------------


class KeyRing:
    """The accepted keys, as their SHA-256 digests."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._keys = [(bytes.fromhex(key.sha256), key) for key in keys]

    def identify(self, presented: str) -> ApiKey | None:
        """The key whose hash matches; every stored hash is compared (no early exit), so the
        time taken tells nothing about which key nearly matched."""
        digest = bytes.fromhex(api_key_sha256(presented))
        found = None
        for stored, key in self._keys:
            if hmac.compare_digest(digest, stored):
                found = key
        return found


def new_key(scope: KeyScope) -> str:
    """A new random key (256 bits), prefixed with its scope so a leaked one is recognised."""
    return f"gc-{scope.value}-{secrets.token_urlsafe(32)}"


def settings_entry(key: str, scope: KeyScope, name: str) -> dict[str, str]:
    """The GLAMCAST_API_KEYS entry of a key: its name, scope and hash, never the key."""
    return ApiKey(name=name, scope=scope, sha256=api_key_sha256(key)).model_dump(exclude_none=True)


# --- rate limit ---------------------------------------------------------------------------------


@dataclass
class TokenBucket:
    """`burst` requests at once, refilled at `rate_per_s`."""

    rate_per_s: float
    burst: int
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = float(self.burst)

    def take(self, now: float) -> float:
        """Take one token: 0.0 when allowed, else the seconds until one is there."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate_per_s


# --- person-bound tokens --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PersonTokens:
    """HMAC-SHA256-signed tokens ``gcp1.<payload>.<signature>``; the payload is JSON
    ``{"sub": user_id, "exp": unix seconds, "scope": "feed:read"}``. Stateless: a token cannot be
    revoked before it expires, so lifetimes are short (`api_token_max_ttl_s`)."""

    def __init__(self, secret: bytes | None) -> None:
        self._secret = secret

    @classmethod
    def from_settings(cls, settings: Settings) -> PersonTokens:
        if settings.api_token_secret is not None:
            return cls(settings.api_token_secret.get_secret_value().encode())
        # local: a secret of this process; prod without a secret issues none.
        return cls(secrets.token_bytes(32) if settings.profile is Profile.LOCAL else None)

    @property
    def enabled(self) -> bool:
        return self._secret is not None

    def _sign(self, signed_part: str) -> str:
        assert self._secret is not None
        return _b64(hmac.new(self._secret, signed_part.encode(), hashlib.sha256).digest())

    def issue(self, user_id: str, ttl_s: int, now: float, scope: str = FEED_READ) -> tuple[str, int]:
        """A token for `user_id` and its expiry (unix seconds)."""
        expires = int(now) + ttl_s
        payload = _b64(json.dumps({"sub": user_id, "exp": expires, "scope": scope},
                                  separators=(",", ":")).encode())
        signed_part = f"{TOKEN_PREFIX}.{payload}"
        return f"{signed_part}.{self._sign(signed_part)}", expires

    def verify(self, token: str, now: float, scope: str = FEED_READ) -> str | None:
        """The person a valid, unexpired token of `scope` is bound to; None otherwise."""
        if self._secret is None or len(token) > MAX_TOKEN_CHARS:
            return None
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        signed_part = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(signed_part).encode(), parts[2].encode()):
            return None
        try:
            claims = json.loads(_unb64(parts[1]))
        except (ValueError, binascii.Error):
            return None
        if (not isinstance(claims, dict) or claims.get("scope") != scope
                or not isinstance(claims.get("exp"), int) or claims["exp"] <= now
                or not isinstance(claims.get("sub"), str)):
            return None
        return claims["sub"]


# --- the check ------------------------------------------------------------------------------------


def a_key(scope: str) -> str:
    return f"{'an' if scope[0] in 'aeiou' else 'a'} {scope} key"


def _one_header(request: Request, name: str) -> str | None:
    values = request.headers.getlist(name)
    if len(values) > 1:
        raise HTTPException(400, f"{len(values)} {name} headers; send exactly one")
    return values[0] if values else None


def _basic_password(credentials: str) -> str | None:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (ValueError, binascii.Error):
        return None
    _, colon, password = decoded.partition(":")
    return password if colon else None


class Guard:
    """The app's keys, rate-limit buckets and token signer (`app.state.guard`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = KeyRing(settings.effective_api_keys)
        self.tokens = PersonTokens.from_settings(settings)
        self._buckets: dict[str, TokenBucket] = {}

    def _rate_limit(self, key: ApiKey) -> None:
        bucket = self._buckets.get(key.name)
        if bucket is None:
            bucket = self._buckets[key.name] = TokenBucket(
                key.rate_per_s or self.settings.api_ingest_rate_per_s,
                key.burst or self.settings.api_ingest_burst)
        wait_s = bucket.take(time.monotonic())
        if wait_s > 0:
            raise HTTPException(429, f"key {key.name!r} is over its rate of {bucket.rate_per_s:g} "
                                     f"requests/s (burst {bucket.burst}); retry later",
                                headers={"Retry-After": str(max(1, math.ceil(wait_s)))})

    def check(self, request: Request, access: Access) -> Caller:
        """The caller of `request` if `access` lets them in; raises the HTTP error otherwise."""
        key_header = _one_header(request, API_KEY_HEADER_NAME)
        authorization = _one_header(request, "Authorization")
        presented, bearer = key_header, None
        if authorization is not None:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() == "basic" and presented is None:
                presented = _basic_password(credentials.strip()) or ""
            elif scheme.lower() == "bearer":
                bearer = credentials.strip()
        person_route = bearer is not None and access.person_param is not None
        if presented is not None:
            key = self.keys.identify(presented)
            if key is None:
                raise self._unauthorized(access, "the API key is not valid")
            if allows(key.scope, access.scopes):
                if key.scope is KeyScope.INGEST:
                    self._rate_limit(key)
                return Caller(key.name, key.scope)
            if not person_route:  # a page may send its ingest key along with a person token
                raise HTTPException(403, f"{a_key(key.scope.value)} may not call this route "
                                         f"(it needs {access.describe()})")
        if person_route:
            person = self.tokens.verify(bearer or "", time.time())
            if person is None:
                raise self._unauthorized(access, "the person token is not valid or has expired")
            if person != request.path_params.get(access.person_param):
                raise HTTPException(403, "the person token is for another person")
            return Caller(f"person:{person}", person=person)
        raise self._unauthorized(access, f"missing credentials: send {API_KEY_HEADER_NAME}")

    @staticmethod
    def _unauthorized(access: Access, detail: str) -> HTTPException:
        challenges = [f'ApiKey realm="{REALM}"']
        if access.browser:
            challenges.insert(0, f'Basic realm="{REALM}", charset="UTF-8"')
        if access.person_param is not None:
            challenges.append(f'Bearer realm="{REALM}"')
        return HTTPException(401, detail, headers={"WWW-Authenticate": ", ".join(challenges)})


class Access:
    """The dependency a router is included with: which scopes may call its routes.

    `person_param`: the path parameter naming a person, whose person token also lets the call in
    (the feed). `browser`: an HTML page, whose 401 asks the browser for Basic credentials.
    """

    def __init__(self, *scopes: KeyScope, person_param: str | None = None,
                 browser: bool = False) -> None:
        self.scopes = frozenset(scopes)
        self.person_param = person_param
        self.browser = browser

    def describe(self) -> str:
        names = sorted({scope.value for scope in self.scopes} | {KeyScope.ADMIN.value})
        return " or ".join(a_key(name) for name in names)

    async def __call__(self, request: Request,
                      _key: str | None = Security(api_key_header)) -> Caller:
        # Async, so the rate-limit buckets are only ever touched on the event loop.
        caller = request.app.state.guard.check(request, self)
        request.state.caller = caller
        return caller
