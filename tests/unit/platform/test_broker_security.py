"""TLS and SASL settings reach every kind of Kafka client (kafka-python, aiokafka, Faust).

No broker here: the clients are built, not connected (their constructors reject unknown options),
and the options they were given are checked. The embedded broker speaks PLAINTEXT only, so the
suite has no TLS/SASL broker to connect to.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import certifi
import faust.auth
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from kafka import KafkaProducer
from pydantic import ValidationError

from glamcast.core.settings import Settings
from glamcast.platform.broker import client_security
from streams.app import broker_credentials, create_app


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(state_dir=tmp_path, kafka_bootstrap="broker.example:9093", **values)


def test_plaintext_adds_nothing(tmp_path: Path) -> None:
    plain = settings(tmp_path)
    assert client_security(plain) == {}
    assert broker_credentials(plain) is None


def test_sasl_ssl_gives_every_client_a_verifying_context_and_the_credentials(
    tmp_path: Path,
) -> None:
    secure = settings(
        tmp_path,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="glamcast",
        kafka_sasl_password="s3cret",
        kafka_ssl_cafile=Path(certifi.where()),
    )
    options = client_security(secure)
    context = options.pop("ssl_context")
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "glamcast",
        "sasl_plain_password": "s3cret",
    }
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0  # the CA file was loaded

    credentials = broker_credentials(secure)
    assert isinstance(credentials, faust.auth.SASLCredentials)
    assert (credentials.protocol.value, credentials.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (credentials.username, credentials.password) == ("glamcast", "s3cret")
    app_credentials = create_app(secure).conf.broker_credentials
    assert isinstance(app_credentials, faust.auth.SASLCredentials)
    assert (app_credentials.protocol.value, app_credentials.username) == ("SASL_SSL", "glamcast")

    # kafka-python and aiokafka accept exactly these option names (unknown ones are errors)
    producer = KafkaProducer(bootstrap_servers="broker.example:9093", api_version=(3, 0),
                             **client_security(secure))
    assert producer.config["security_protocol"] == "SASL_SSL"
    assert producer.config["sasl_plain_username"] == "glamcast"
    producer.close(timeout=0)

    async def build() -> None:
        consumer = AIOKafkaConsumer(bootstrap_servers="broker.example:9093",
                                    **client_security(secure))
        sink = AIOKafkaProducer(bootstrap_servers="broker.example:9093", **client_security(secure))
        assert consumer._client._security_protocol == "SASL_SSL"
        assert sink.client._sasl_mechanism == "SCRAM-SHA-512"

    asyncio.run(build())


def test_ssl_without_sasl(tmp_path: Path) -> None:
    tls = settings(tmp_path, kafka_security_protocol="SSL")
    options = client_security(tls)
    assert set(options) == {"security_protocol", "ssl_context"}
    credentials = broker_credentials(tls)
    assert isinstance(credentials, faust.auth.SSLCredentials)
    assert credentials.protocol.value == "SSL"


@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_without_credentials_is_refused_at_start(tmp_path: Path, missing: str) -> None:
    values = {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_sasl_username": "glamcast",
        "kafka_sasl_password": "s3cret",
    }
    del values[missing]
    with pytest.raises(ValidationError, match="GLAMCAST_KAFKA_SASL_USERNAME and "
                       "GLAMCAST_KAFKA_SASL_PASSWORD"):
        settings(tmp_path, **values)
