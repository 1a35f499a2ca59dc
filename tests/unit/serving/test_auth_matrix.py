"""Who may call what, against the table in docs/serving.md ("Keys and scopes").

Every route of the app (enumerated from `app.routes`, so a new route without a row in the table
fails here) × {no key, each scope's dev key, a wrong key, two X-API-Key headers} → the status the
table implies: open routes answer whatever is sent; protected ones 401 / the route's own answer /
403 / 401 / 400. The app runs over an empty state dir with no services (the broker address is a
closed port), so each route's own answer is fixed: `PROBES` names the request and that answer.
Then: the ingest rate limit, person-bound feed tokens, Basic credentials on the dashboard, CORS.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient

from glamcast.core.settings import ApiKey, KeyScope, Settings, api_key_sha256
from glamcast.platform.stack import free_port
from glamcast.serving.app import create_app

DOCS = Path(__file__).resolve().parents[3] / "docs" / "serving.md"
TABLE_HEADER = "| method | route | who may call it |"

#: (method, route) → (the URL to request, request options, the route's own answer when let in).
PROBES: dict[tuple[str, str], tuple[str, dict, int]] = {
    ("POST", "/v1/events/{kind}"): ("/v1/events/tryon", {"json": [{}]}, 422),  # no valid item
    # k out of bounds: the feed's own 422, without a feature read (each read over a state dir
    # with no Feast repository takes seconds)
    ("GET", "/v1/feed/{user_id}"): ("/v1/feed/u-1", {"params": {"k": 0}}, 422),
    ("POST", "/v1/feed-tokens"): ("/v1/feed-tokens", {"json": {"user_id": "u-1"}}, 201),
    ("GET", "/v1/trends"): ("/v1/trends", {}, 200),  # no run yet: an empty list and a note
    ("GET", "/v1/trends/{term}"): ("/v1/trends/coral", {}, 404),  # no run yet
    ("GET", "/v1/trends.csv"): ("/v1/trends.csv", {}, 404),
    ("GET", "/v1/trends/{term}/forecast.csv"): ("/v1/trends/coral/forecast.csv", {}, 404),
    ("GET", "/v1/trend-looks"): ("/v1/trend-looks", {}, 200),  # no run yet: no looks
    ("GET", "/dashboard"): ("/dashboard", {}, 200),
    ("GET", "/dashboard/trends.csv"): ("/dashboard/trends.csv", {}, 404),  # no run yet
    ("GET", "/dashboard/forecast.csv"): ("/dashboard/forecast.csv", {"params": {"term": "coral"}}, 404),
    ("GET", "/dashboard/assets/{name}"): ("/dashboard/assets/dashboard.css", {}, 200),
    ("DELETE", "/v1/people/{user_id}"): ("/v1/people/" + "x" * 129, {}, 422),  # id too long
    ("GET", "/metrics"): ("/metrics", {}, 200),
    ("GET", "/mirror"): ("/mirror", {}, 200),
    ("GET", "/mirror/assets/{name}"): ("/mirror/assets/none.js", {}, 404),
    ("GET", "/mirror/samples/{name}"): ("/mirror/samples/none.jpg", {}, 404),
    ("GET", "/sdk/{name}"): ("/sdk/none.js", {}, 404),
    ("GET", "/vendor/{package}/{path}"): ("/vendor/none/x.js", {}, 404),
    ("GET", "/v1/products"): ("/v1/products", {"params": {"ids": "p1"}}, 200),  # empty catalogue
    ("POST", "/v1/looks/match"): ("/v1/looks/match", {"json": {"items": []}}, 422),  # no item
    ("POST", "/v1/looks/generate"): ("/v1/looks/generate", {"json": {"skin_tone": 0}}, 422),  # bad face
    ("GET", "/v1/looks/{look_id}/tutorial"): ("/v1/looks/none/tutorial", {}, 404),  # no look
    ("GET", "/healthz"): ("/healthz", {}, 200),
    ("GET", "/readyz"): ("/readyz", {}, 503),  # no broker, no store, no model
    ("GET", "/openapi.json"): ("/openapi.json", {}, 200),
    ("HEAD", "/openapi.json"): ("/openapi.json", {}, 200),
    ("GET", "/docs"): ("/docs", {}, 200),
    ("HEAD", "/docs"): ("/docs", {}, 200),
    ("GET", "/docs/oauth2-redirect"): ("/docs/oauth2-redirect", {}, 200),
    ("HEAD", "/docs/oauth2-redirect"): ("/docs/oauth2-redirect", {}, 200),
    ("GET", "/redoc"): ("/redoc", {}, 200),
    ("HEAD", "/redoc"): ("/redoc", {}, 200),
}

CREDENTIALS: dict[str, list[tuple[str, str]]] = {
    "no key": [],
    **{scope.value: [("X-API-Key", f"dev-{scope.value}")] for scope in KeyScope},
    "wrong key": [("X-API-Key", "dev-root")],
    "two keys": [("X-API-Key", "dev-admin"), ("X-API-Key", "dev-admin")],
}

Rule = frozenset[KeyScope] | None  # None: open


def documented_rules() -> dict[tuple[str, str], Rule]:
    """(method, route) → the scopes that may call it (None: open), from docs/serving.md."""
    lines = DOCS.read_text().splitlines()
    start = lines.index(TABLE_HEADER) + 2
    rules: dict[tuple[str, str], Rule] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        methods, route, who = (cell.strip() for cell in line.strip("|").split("|"))
        keys = re.sub(r"\(.*?\)", "", who).split(";")[0].strip()  # notes left out
        rule = None if keys == "open" else frozenset(KeyScope(name.strip()) for name in keys.split(","))
        for method in methods.split(","):
            rules[(method.strip(), route.strip("`"))] = rule
    return rules


def app_routes(app) -> set[tuple[str, str]]:
    """(method, route) of every route, convertors left out (`{path:path}` → `{path}`)."""
    return {(method, re.sub(r"{(\w+):\w+}", r"{\1}", route.path))
            for route in iter_route_contexts(app.routes) for method in route.methods or ()}


def expected_status(rule: Rule, credential: str, allowed: int) -> int:
    if rule is None:
        return allowed
    if credential in ("no key", "wrong key"):
        return 401
    if credential == "two keys":
        return 400
    scope = KeyScope(credential)
    return allowed if scope is KeyScope.ADMIN or scope in rule else 403


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(state_dir=tmp_path_factory.mktemp("auth-state"),
                    kafka_bootstrap=f"127.0.0.1:{free_port()}", api_produce_timeout_s=1.0)


@pytest.fixture(scope="module")
def client(settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:  # one event loop for the module
        yield test_client


def test_every_route_is_in_the_table_and_every_row_is_a_route(client):
    routes, rules = app_routes(client.app), documented_rules()
    assert sorted(routes - set(rules)) == [], "routes with no row in docs/serving.md"
    assert sorted(set(rules) - routes) == [], "rows of docs/serving.md with no route"
    assert sorted(routes - set(PROBES)) == [], "routes with no probe request in this test"


def test_every_route_answers_each_credential_as_documented(client):
    rules = documented_rules()
    wrong = []
    for (method, route) in sorted(app_routes(client.app)):
        url, options, allowed = PROBES[(method, route)]
        for credential, headers in CREDENTIALS.items():
            answer = client.request(method, url, headers=headers, **options)
            want = expected_status(rules[(method, route)], credential, allowed)
            if answer.status_code != want:
                wrong.append(f"{method} {route} with {credential}: {answer.status_code}, "
                             f"documented {want} ({answer.text[:120]})")
    assert wrong == []


def test_error_answers_say_why(client):
    two = client.get("/metrics", headers=[("X-API-Key", "dev-metrics"), ("x-api-key", "dev-metrics")])
    assert (two.status_code, two.json()["detail"]) == (400, "2 X-API-Key headers; send exactly one")
    two_auth = client.get("/metrics", headers=[("Authorization", "Bearer a"), ("Authorization", "Bearer b")])
    assert two_auth.status_code == 400
    missing = client.get("/v1/trends")
    assert missing.json()["detail"] == "missing credentials: send X-API-Key"
    assert missing.headers["WWW-Authenticate"] == 'ApiKey realm="glamcast"'
    assert client.get("/v1/trends", headers={"X-API-Key": "nope"}).json()["detail"] == \
        "the API key is not valid"
    scoped = client.get("/v1/trends", headers={"X-API-Key": "dev-service"})
    assert scoped.json()["detail"] == ("a service key may not call this route "
                                       "(it needs an admin key or a marketing key)")


def test_an_ingest_key_over_its_burst_gets_429_with_retry_after(tmp_path):
    keys = [ApiKey(name="page", scope=KeyScope.INGEST, sha256=api_key_sha256("k-page"),
                   rate_per_s=0.5, burst=3),
            ApiKey(name="app", scope=KeyScope.INGEST, sha256=api_key_sha256("k-app"), burst=3),
            ApiKey(name="ops", scope=KeyScope.ADMIN, sha256=api_key_sha256("k-ops"))]
    client = TestClient(create_app(Settings(state_dir=tmp_path, api_keys=keys,
                                            kafka_bootstrap=f"127.0.0.1:{free_port()}")))

    def ingest(key: str):
        return client.post("/v1/events/tryon", json=[{}], headers={"X-API-Key": key})

    assert [ingest("k-page").status_code for _ in range(3)] == [422, 422, 422]
    limited = ingest("k-page")
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 2  # a token every 2 s
    assert "over its rate of 0.5 requests/s (burst 3)" in limited.json()["detail"]
    assert ingest("k-app").status_code == 422  # per key: another key has its own bucket
    assert [ingest("k-ops").status_code for _ in range(5)] == [422] * 5  # admin: no limit
    forbidden = client.get("/v1/trends", headers={"X-API-Key": "k-page"})
    assert forbidden.status_code == 403  # refused before the limit, however many


def test_a_person_token_reads_that_persons_feed_only(client, settings):
    issued = client.post("/v1/feed-tokens", json={"user_id": "u-7", "ttl_s": 60},
                         headers={"X-API-Key": "dev-service"})
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    token = issued.json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}

    def feed(user_id: str, headers: dict[str, str], on: TestClient = client):
        # k=0: past the credentials check the feed itself answers 422 (no feature read)
        return on.get(f"/v1/feed/{user_id}", params={"k": 0}, headers=headers)

    let_in = (422, "k must be between 1 and 100, not 0")
    own = feed("u-7", bearer)
    assert (own.status_code, own.json()["detail"]) == let_in
    other = feed("u-8", bearer)
    assert (other.status_code, other.json()["detail"]) == (403, "the person token is for another person")
    # A page sends its ingest key along: the key cannot read feeds, the token can.
    along = feed("u-7", {**bearer, "X-API-Key": "dev-ingest"})
    assert (along.status_code, along.json()["detail"]) == let_in
    assert feed("u-7", {**bearer, "X-API-Key": "dev-nope"}).status_code == 401
    assert client.get("/v1/trends", headers=bearer).status_code == 401  # feeds only
    assert client.post("/v1/feed-tokens", json={"user_id": "u-8"}, headers=bearer).status_code == 401
    assert feed("u-7", {"Authorization": f"Bearer {token}x"}).status_code == 401
    assert feed("u-7", {}).headers["WWW-Authenticate"] == 'ApiKey realm="glamcast", Bearer realm="glamcast"'
    from_elsewhere = TestClient(create_app(settings))  # another process: another local secret
    assert feed("u-7", bearer, on=from_elsewhere).status_code == 401
    too_long = client.post("/v1/feed-tokens", json={"user_id": "u-7", "ttl_s": 901},
                           headers={"X-API-Key": "dev-service"})
    assert (too_long.status_code, too_long.json()["detail"]) == (422, "ttl_s must be at most 900, not 901")
    assert client.post("/v1/feed-tokens", json={"user_id": "u-7"},
                       headers={"X-API-Key": "dev-ingest"}).status_code == 403


def test_a_browser_opens_the_dashboard_with_basic_credentials(client):
    challenge = client.get("/dashboard")
    assert challenge.status_code == 401
    assert challenge.headers["WWW-Authenticate"].startswith('Basic realm="glamcast"')

    def basic(password: str) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f"anyone:{password}".encode()).decode()}

    assert client.get("/dashboard", headers=basic("dev-marketing")).status_code == 200
    assert client.get("/dashboard", headers=basic("dev-ingest")).status_code == 403
    assert client.get("/dashboard", headers=basic("wrong")).status_code == 401
    assert client.get("/dashboard", headers={"Authorization": "Basic %%%"}).status_code == 401


def test_openapi_documents_the_auth_answers_of_protected_routes(client):
    spec = client.get("/openapi.json").json()
    rules = documented_rules()
    for (method, route), rule in rules.items():
        operation = spec["paths"].get(route, {}).get(method.lower())
        if operation is None:  # the docs themselves, not in the schema
            continue
        codes = set(operation["responses"])
        if rule is None:
            assert not codes & {"401", "403"}, route
            continue
        assert {"400", "401", "403"} <= codes, route
        assert operation["security"] == [{"ApiKey": []}], route
        assert ("429" in codes) == (KeyScope.INGEST in rule), route
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key",
        "description": "An API key; `glamcast keys new` makes one. Scopes: docs/serving.md."}


def preflight(client: TestClient, origin: str):
    return client.options("/v1/events/tryon", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-api-key, content-type"})


def test_cors_answers_configured_origins_only(tmp_path):
    app = create_app(Settings(state_dir=tmp_path, api_cors_origins=["https://shop.example"]))
    client = TestClient(app)
    allowed = preflight(client, "https://shop.example")
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert {"x-api-key", "content-type", "authorization"} <= {
        name.strip().lower() for name in allowed.headers["Access-Control-Allow-Headers"].split(",")}
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    refused = preflight(client, "https://evil.example")
    assert (refused.status_code, refused.text) == (400, "Disallowed CORS origin")
    assert "Access-Control-Allow-Origin" not in refused.headers
    # An error to an allowed page carries the CORS headers, so the page can read it.
    denied = client.get("/v1/trends", headers={"Origin": "https://shop.example"})
    assert denied.status_code == 401
    assert denied.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "Access-Control-Allow-Origin" not in client.get(
        "/healthz", headers={"Origin": "https://evil.example"}).headers

    default = TestClient(create_app(Settings(state_dir=tmp_path)))  # no origins configured
    none = preflight(default, "https://shop.example")
    assert none.status_code == 405
    assert not [name for name in none.headers if name.lower().startswith("access-control-")]
