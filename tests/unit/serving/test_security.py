"""The parts of glamcast.serving.security with no app around them: key lookup by hash, the token
bucket, person-bound tokens, and `glamcast keys new`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from glamcast.cli import app as cli
from glamcast.core.settings import ApiKey, KeyScope, Settings, api_key_sha256
from glamcast.serving.security import KeyRing, PersonTokens, TokenBucket, allows, new_key


def test_a_key_is_found_by_its_hash_and_only_by_it():
    keys = [ApiKey(name="shop", scope=KeyScope.INGEST, sha256=api_key_sha256("k-shop")),
            ApiKey(name="ops", scope=KeyScope.ADMIN, sha256=api_key_sha256("k-ops"))]
    ring = KeyRing(keys)
    assert ring.identify("k-shop") == keys[0]
    assert ring.identify("k-ops") == keys[1]
    for wrong in ("", "k-sho", "k-shop ", "K-SHOP", api_key_sha256("k-shop")):
        assert ring.identify(wrong) is None


def test_admin_implies_every_scope_and_no_other_scope_implies_one():
    for held in KeyScope:
        for needed in KeyScope:
            assert allows(held, frozenset({needed})) == (held is KeyScope.ADMIN or held is needed)


def test_token_bucket_allows_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(rate_per_s=2.0, burst=3, updated=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.5)  # one token takes 1 / 2 s
    assert bucket.take(100.25) == pytest.approx(0.25)
    assert bucket.take(100.5) == 0.0
    assert bucket.take(110.0) == 0.0  # refilled to the burst, never above it
    assert [bucket.take(110.0) for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_person_token_reads_only_its_person_until_it_expires():
    tokens = PersonTokens(b"s" * 32)
    token, expires = tokens.issue("u-42", ttl_s=60, now=1_000.0)
    assert expires == 1_060
    assert tokens.verify(token, now=1_059.9) == "u-42"
    assert tokens.verify(token, now=1_060.0) is None  # expired
    assert tokens.verify(token, now=1_000.0, scope="erase") is None  # another scope
    assert PersonTokens(b"t" * 32).verify(token, now=1_000.0) is None  # another secret
    prefix, payload, signature = token.split(".")
    forged, _ = PersonTokens(b"t" * 32).issue("u-43", ttl_s=60, now=1_000.0)
    for bad in (f"{prefix}.{forged.split('.')[1]}.{signature}",  # someone else's claims
                f"{prefix}.{payload}.{signature[:-2]}", f"gcp2.{payload}.{signature}",
                f"{prefix}.{payload}", "", "x" * 5000, "a.b.c"):
        assert tokens.verify(bad, now=1_000.0) is None
    assert PersonTokens(None).verify(token, now=1_000.0) is None  # tokens switched off


def test_person_tokens_are_off_in_prod_without_a_secret_and_shared_with_one():
    prod = {"profile": "prod", "kafka_bootstrap": "k:9092", "mlflow_tracking_uri": "http://m",
            "spark_master": "local[1]", "lake_uri": "/lake", "redis_url": "redis://r",
            "registry_db_url": "postgresql://r/r",
            "api_keys": [ApiKey(name="a", scope=KeyScope.ADMIN, sha256=api_key_sha256("a"))]}
    assert not PersonTokens.from_settings(Settings(**prod)).enabled
    assert PersonTokens.from_settings(Settings()).enabled  # local: a secret of this process
    one = PersonTokens.from_settings(Settings(**prod, api_token_secret="shared"))
    other = PersonTokens.from_settings(Settings(**prod, api_token_secret="shared"))
    token, _ = one.issue("u-1", ttl_s=10, now=0.0)
    assert other.verify(token, now=5.0) == "u-1"  # another API process with the same secret


def test_keys_new_prints_a_key_once_and_the_entry_that_accepts_it():
    result = CliRunner().invoke(cli, ["keys", "new", "--scope", "ingest", "--name", "shop-app"])
    assert result.exit_code == 0, result.output
    key_line, entry_line = result.output.strip().splitlines()
    key = key_line.rsplit(" ", 1)[1]
    assert key.startswith("gc-ingest-") and len(key) >= 40
    entry = json.loads(entry_line.split(": ", 1)[1])
    assert entry == {"name": "shop-app", "scope": "ingest", "sha256": api_key_sha256(key)}
    assert key not in entry_line
    assert KeyRing([ApiKey(**entry)]).identify(key).name == "shop-app"
    assert new_key(KeyScope.ADMIN) != new_key(KeyScope.ADMIN)
    refused = CliRunner().invoke(cli, ["keys", "new", "--scope", "root", "--name", "x"])
    assert refused.exit_code == 2
