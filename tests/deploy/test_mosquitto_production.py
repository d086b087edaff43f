"""The production Mosquitto setup, run for real on loopback: docker-compose.yml's start script
writes the password file (edumon and lns from the environment, the device logins file as the
operator keeps it), then mosquitto runs the shipped config and ACL (container paths mapped to
a temp dir, a throw-away certificate for the TLS listener). Anonymous and wrong logins are
refused; each role may publish and read only its own topics; a device only its own."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from gateway.devstack.servers import free_port
from gateway.mqtt_client import ClientOptions, MqttClient, MqttError
from tests.deploy.compose import COMPOSE_FILE, PRODUCTION, require
from tests.integration.test_mqtt_tls import write_pki

pytestmark = pytest.mark.integration
ROLES = ("EDUMON", "LNS")
AP_A, AP_B, EXHIBIT = "vsk-1-ap-101", "vsk-2-ap-201", "vizium-lightning"


@dataclass
class Broker:
    port: int
    tls_port: int
    ca_file: Path
    logins: dict[str, tuple[str, str]]  # role or device id -> (user, password)

    def client(
        self, login: str | None, *, password: str | None = None, tls: bool = False
    ) -> MqttClient:
        user, real_password = self.logins[login] if login else (None, None)
        options = ClientOptions(
            client_id=f"test-{login}-{secrets.token_hex(3)}",
            username=user,
            password=password or real_password,
            tls=ssl.create_default_context(cafile=self.ca_file) if tls else None,
        )
        return MqttClient("127.0.0.1", self.tls_port if tls else self.port, options)


def start_script(root: Path, mosquitto: str) -> str:
    """The compose service's command, as compose hands it to sh ($$ -> $), paths mapped."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    script = str(compose["services"]["mosquitto"]["command"][-1]).replace("$$", "$")
    script = script.replace("/mosquitto/", f"{root}/")
    return script.replace("exec mosquitto ", f"exec {mosquitto} ")


def device_logins(path: Path, devices: list[str]) -> dict[str, tuple[str, str]]:
    """The operator's device logins file, made as the README says (mosquitto_passwd)."""
    logins = {device: (device, secrets.token_urlsafe(12)) for device in devices}
    path.touch(mode=0o600)
    for user, password in logins.values():
        subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True)
    return logins


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    mosquitto = require("mosquitto", "mosquitto")
    require("mosquitto_passwd", "mosquitto")
    port, tls_port = free_port(), free_port()
    for directory in ("config", "auth", "data", "devices", "certs"):
        (tmp_path / directory).mkdir()
    ca, cert, _key = write_pki(tmp_path / "certs")  # the key is server.key already
    cert.rename(tmp_path / "certs" / "server.crt")
    conf = (PRODUCTION / "mosquitto.conf").read_text().replace("/mosquitto/", f"{tmp_path}/")
    conf = conf.replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    conf = conf.replace("listener 8883\n", f"listener {tls_port} 127.0.0.1\n")
    # the container runs it as user mosquitto; here the temp dir belongs to whoever runs pytest
    conf += f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    (tmp_path / "config" / "mosquitto.conf").write_text(conf)
    (tmp_path / "config" / "acl").write_text((PRODUCTION / "mosquitto.acl").read_text())
    logins = device_logins(tmp_path / "devices" / "passwd", [AP_A, AP_B, EXHIBIT])
    env = {"PATH": os.environ["PATH"]}
    for role in ROLES:
        logins[role] = (role.lower(), secrets.token_urlsafe(12))
        env |= {f"MQTT_{role}_USER": logins[role][0], f"MQTT_{role}_PASSWORD": logins[role][1]}
    process = subprocess.Popen(
        ["sh", "-ec", start_script(tmp_path, mosquitto)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Broker(port, tls_port, ca, logins)
    try:
        asyncio.run(wait_until_ready(server))
        assert process.poll() is None
        yield server
    finally:
        process.terminate()
        process.wait(10)
        assert process.stderr is not None
        process.stderr.close()


async def wait_until_ready(broker: Broker) -> None:
    async with asyncio.timeout(10):
        while True:
            try:
                async with broker.client("EDUMON"):
                    return
            except MqttError:
                await asyncio.sleep(0.1)


async def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    with pytest.raises(MqttError):
        async with broker.client(None):
            pass
    with pytest.raises(MqttError):
        async with broker.client(AP_A, password="not-the-password"):
            pass


async def test_each_role_publishes_and_reads_only_its_topics(broker: Broker) -> None:
    received: list[tuple[str, object]] = []
    async with (
        broker.client("EDUMON") as edumon,
        broker.client(AP_A) as devices,
        broker.client("LNS") as lns,
    ):
        for topic in ("edumon/#", "application/+/device/+/event/up", "v3/+/devices/+/up"):
            await edumon.subscribe(topic, qos=1)
        await devices.subscribe("edumon/#", qos=1)  # devices may not read: gets nothing
        await devices.publish(f"edumon/vsk-1/ap/{AP_A}/state", b"ap state", qos=1)
        await devices.publish("application/1/device/70b3/event/up", b"forged uplink", qos=1)
        await lns.publish("edumon/vsk-1/ap/vsk-1-ap-101/state", b"forged state", qos=1)
        await lns.publish("application/1/device/70b3/event/up", b"uplink", qos=1)
        await edumon.publish("edumon/vsk-1/exhibit/x/health", b"edumon may not write", qos=1)
        await lns.publish("v3/app@city/devices/node/up", b"last", qos=1)
        async with asyncio.timeout(5):
            async for message in edumon.messages:
                received.append((str(message.topic), message.payload))
                if message.payload == b"last":
                    break
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await anext(aiter(devices.messages))
    assert received == [
        ("edumon/vsk-1/ap/vsk-1-ap-101/state", b"ap state"),
        ("application/1/device/70b3/event/up", b"uplink"),
        ("v3/app@city/devices/node/up", b"last"),
    ]


async def test_a_device_publishes_only_its_own_topics_and_status(broker: Broker) -> None:
    """Device A's login (stolen, or a buggy firmware) cannot speak for B: not its state, not
    another exhibit's health, and no retained "offline" for B that would page someone."""
    own = [f"edumon/vsk-1/ap/{AP_A}/state", f"edumon/vsk-1/ap/{AP_A}/status"]
    forged = [
        f"edumon/vsk-2/ap/{AP_B}/state",
        f"edumon/vsk-2/ap/{AP_B}/status",
        f"edumon/vizium/exhibit/{EXHIBIT}/health",
        f"edumon/vizium/exhibit/{EXHIBIT}/status",
        f"edumon/vsk-2/ap/{AP_B}/state/extra",
    ]
    received: list[str] = []
    async with broker.client("EDUMON") as edumon, broker.client(AP_A, tls=True) as device_a:
        await edumon.subscribe("edumon/#", qos=1)
        for topic in forged + own:  # the forged ones first: the last one ends the wait
            await device_a.publish(topic, b"offline", qos=1, retain=topic.endswith("status"))
        async with asyncio.timeout(5):
            async for message in edumon.messages:
                received.append(str(message.topic))
                if str(message.topic) == own[-1]:
                    break
    assert received == own
    async with broker.client("EDUMON") as late:  # what a restarted edumon would find retained
        await late.subscribe("edumon/+/+/+/status", qos=1)
        retained: list[str] = []
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1):
                async for message in late.messages:
                    retained.append(str(message.topic))
    assert retained == [own[1]]


async def test_devices_log_in_over_tls_only_from_outside(broker: Broker) -> None:
    async with broker.client(AP_B, tls=True) as device_b, broker.client("EDUMON") as edumon:
        await edumon.subscribe(f"edumon/vsk-2/ap/{AP_B}/state", qos=1)
        await device_b.publish(f"edumon/vsk-2/ap/{AP_B}/state", b"{}", qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(edumon.messages))
    assert message.payload == b"{}"
    with pytest.raises(MqttError):  # plaintext to the TLS port: no session
        async with MqttClient("127.0.0.1", broker.tls_port):
            pass
