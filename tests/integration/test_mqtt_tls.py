"""The MQTT consumer over TLS with a username and password, against a real Mosquitto with a
TLS-only listener and a password file: settings come from the config (secrets from the
environment, the CA file relative to the config), and a wrong password, an untrusted
certificate or a certificate for another host name never connects; a broker that requires
client certificates (mTLS) takes edumon's `cert_file`/`key_file`."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import ssl
import subprocess
from collections.abc import Awaitable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.config import load_config
from gateway.deadletter import DeadLetterFile
from gateway.devstack.servers import Mosquitto
from gateway.mqtt_client import ClientOptions, MqttClient
from gateway.mqtt_consumer import MqttConsumer
from gateway.mqtt_settings import settings_from_config
from gateway.plugins import PLUGINS
from tests.integration.test_mqtt_consumer import Collected, handler

pytestmark = pytest.mark.integration

USER, PASSWORD = "edumon", "test-only-password"


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, signing_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
    )
    if issuer is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, False)
    return builder.sign(signing_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_pki(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA, a server certificate for 127.0.0.1 and a client certificate (`client.pem`,
    `client.key`): (ca, cert, key) files of the server."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("edumon test CA", ca_key, None)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in ("server", "client"):
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = _certificate("127.0.0.1", key, ("edumon test CA", ca_key))
        (directory / f"{name}.pem").write_bytes(
            certificate.public_bytes(serialization.Encoding.PEM)
        )
        (directory / f"{name}.key").write_bytes(_pem_key(key))
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


def tls_broker(directory: Path, *, client_certificates: bool) -> Iterator[tuple[Mosquitto, Path]]:
    """A TLS-only Mosquitto with a password file (and requiring client certificates of the
    test CA): (the broker, the CA file)."""
    ca, cert, key = write_pki(directory)
    passwords = directory / "passwords"
    passwords.touch(mode=0o600)
    subprocess.run(["mosquitto_passwd", "-b", str(passwords), USER, PASSWORD], check=True)
    client_ca = ca if client_certificates else None
    with Mosquitto(
        directory / "broker", tls=(cert, key), password_file=passwords, client_ca=client_ca
    ) as broker:
        yield broker, ca


@pytest.fixture(scope="module")
def secure_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, Path]]:
    yield from tls_broker(tmp_path_factory.mktemp("mqtt-tls"), client_certificates=False)


@pytest.fixture(scope="module")
def mtls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, Path]]:
    yield from tls_broker(tmp_path_factory.mktemp("mqtt-mtls"), client_certificates=True)


def config(
    tmp_path: Path, broker: Mosquitto, ca_file: str | None, host: str = "127.0.0.1", more: str = ""
) -> Path:
    path = tmp_path / "edumon.yaml"
    ca = f", ca_file: {ca_file}" if ca_file else ""
    path.write_text(
        f"mqtt: {{host: {host}, port: {broker.port}, tls: true{ca}{more},"
        " username_env: MQTT_USER, password_env: MQTT_PASSWORD, client_id: edumon-tls}\n"
    )
    return path


async def consume(
    tmp_path: Path, broker: Mosquitto, password: str, ca_file: str | None, **options: str
) -> MqttConsumer:
    environ = {"MQTT_USER": USER, "MQTT_PASSWORD": password}
    path = config(tmp_path, broker, ca_file, **options)
    settings = settings_from_config(load_config(path, PLUGINS, environ), "t")
    dead_letters = DeadLetterFile(tmp_path / "deadletter.jsonl")
    return MqttConsumer("tls", settings, ["school/+/data"], handler, dead_letters)


async def publish_over_tls(broker: Mosquitto, ca: Path, count: int, **login: str) -> None:
    tls = ssl.create_default_context(cafile=ca)
    if login.get("cert"):
        tls.load_cert_chain(login["cert"], login["key"])
    options = ClientOptions(username=login.get("username"), password=login.get("password"), tls=tls)
    async with MqttClient("127.0.0.1", broker.port, options) as publisher:
        for n in range(count):
            await publisher.publish(f"school/{n % 3}/data", str(n).encode(), qos=1)


async def delivers(consumer: MqttConsumer, publish: Awaitable[None], count: int) -> None:
    collected = Collected()
    task = asyncio.create_task(consumer.run(collected))
    try:
        async with asyncio.timeout(10):
            await consumer.connected.wait()
        await publish
        await collected.wait_for(count, timeout_s=10)
        assert sorted(int(t.split("#")[1]) for t in collected.topics) == list(range(count))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def never_connects(consumer: MqttConsumer) -> str:
    """The reason the consumer gives after trying for a while."""
    task = asyncio.create_task(consumer.run(Collected()))
    await asyncio.sleep(1.5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert consumer.stats.connects == 0 and consumer.stats.disconnects >= 1
    return consumer.health.detail


async def test_tls_with_password_delivers(
    tmp_path: Path, secure_broker: tuple[Mosquitto, Path]
) -> None:
    broker, ca = secure_broker
    (tmp_path / "pki").mkdir()
    (tmp_path / "pki" / "ca.pem").write_bytes(ca.read_bytes())
    consumer = await consume(tmp_path, broker, PASSWORD, "pki/ca.pem")  # relative to the config
    login = {"username": USER, "password": PASSWORD}
    await delivers(consumer, publish_over_tls(broker, ca, 20, **login), 20)


@pytest.mark.parametrize(
    ("password", "trust_ca"), [("wrong-test-password", True), (PASSWORD, False)]
)
async def test_a_wrong_password_or_an_untrusted_certificate_never_connects(
    tmp_path: Path, secure_broker: tuple[Mosquitto, Path], password: str, trust_ca: bool
) -> None:
    broker, ca = secure_broker
    consumer = await consume(tmp_path, broker, password, str(ca) if trust_ca else None)
    reason = await never_connects(consumer)
    assert ("Not authorized" in reason) if trust_ca else ("CERTIFICATE_VERIFY_FAILED" in reason)


async def test_a_broker_certificate_for_another_host_name_is_refused(
    tmp_path: Path, secure_broker: tuple[Mosquitto, Path]
) -> None:
    broker, ca = secure_broker  # its certificate names 127.0.0.1 only
    consumer = await consume(tmp_path, broker, PASSWORD, str(ca), host="localhost")
    assert "Hostname mismatch" in await never_connects(consumer)


async def test_mtls_with_a_client_certificate_delivers_and_without_one_never_connects(
    tmp_path: Path, mtls_broker: tuple[Mosquitto, Path]
) -> None:
    broker, ca = mtls_broker
    client = {"cert": str(ca.parent / "client.pem"), "key": str(ca.parent / "client.key")}
    await never_connects(await consume(tmp_path, broker, PASSWORD, str(ca)))
    more = f", cert_file: {client['cert']}, key_file: {client['key']}"
    consumer = await consume(tmp_path, broker, PASSWORD, str(ca), more=more)
    login = {"username": USER, "password": PASSWORD, **client}
    await delivers(consumer, publish_over_tls(broker, ca, 10, **login), 10)
