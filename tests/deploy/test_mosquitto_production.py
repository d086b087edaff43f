"""The production Mosquitto setup, run for real on loopback: docker-compose.yml's start script
writes the password file from the environment, then mosquitto runs the shipped config and ACL
(container paths mapped to a temp dir). Anonymous and wrong logins are refused; each role may
publish and read only its own topics."""

from __future__ import annotations

import asyncio
import os
import pwd
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
import yaml

from gateway.devstack.servers import free_port
from tests.deploy.compose import COMPOSE_FILE, PRODUCTION, require

pytestmark = pytest.mark.integration
ROLES = ("EDUMON", "DEVICES", "LNS")


@dataclass
class Broker:
    port: int
    logins: dict[str, tuple[str, str]]  # role -> (user, password)

    def client(self, role: str | None, *, password: str | None = None) -> aiomqtt.Client:
        user, real_password = self.logins[role] if role else (None, None)
        return aiomqtt.Client(
            "127.0.0.1",
            self.port,
            username=user,
            password=password or real_password,
            identifier=f"test-{role}-{secrets.token_hex(3)}",
            timeout=5,
        )


def start_script(root: Path, mosquitto: str) -> str:
    """The compose service's command, as compose hands it to sh ($$ -> $), paths mapped."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    script = str(compose["services"]["mosquitto"]["command"][-1]).replace("$$", "$")
    script = script.replace("/mosquitto/", f"{root}/")
    return script.replace("exec mosquitto ", f"exec {mosquitto} ")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    mosquitto = require("mosquitto", "mosquitto")
    require("mosquitto_passwd", "mosquitto")
    port = free_port()
    for directory in ("config", "auth", "data"):
        (tmp_path / directory).mkdir()
    conf = (PRODUCTION / "mosquitto.conf").read_text().replace("/mosquitto/", f"{tmp_path}/")
    conf = conf.replace("listener 1883\n", f"listener {port} 127.0.0.1\n")
    # the container runs it as user mosquitto; here the temp dir belongs to whoever runs pytest
    conf += f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    (tmp_path / "config" / "mosquitto.conf").write_text(conf)
    (tmp_path / "config" / "acl").write_text((PRODUCTION / "mosquitto.acl").read_text())
    logins = {role: (role.lower(), secrets.token_urlsafe(12)) for role in ROLES}
    env = {"PATH": os.environ["PATH"]}
    for role, (user, password) in logins.items():
        env |= {f"MQTT_{role}_USER": user, f"MQTT_{role}_PASSWORD": password}
    process = subprocess.Popen(
        ["sh", "-ec", start_script(tmp_path, mosquitto)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        asyncio.run(wait_until_ready(Broker(port, logins)))
        assert process.poll() is None
        yield Broker(port, logins)
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
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)


async def test_anonymous_and_wrong_passwords_are_refused(broker: Broker) -> None:
    with pytest.raises(aiomqtt.MqttError):
        async with broker.client(None):
            pass
    with pytest.raises(aiomqtt.MqttError):
        async with broker.client("DEVICES", password="not-the-password"):
            pass


async def test_each_role_publishes_and_reads_only_its_topics(broker: Broker) -> None:
    received: list[tuple[str, object]] = []
    async with (
        broker.client("EDUMON") as edumon,
        broker.client("DEVICES") as devices,
        broker.client("LNS") as lns,
    ):
        for topic in ("edumon/#", "application/+/device/+/event/up", "v3/+/devices/+/up"):
            await edumon.subscribe(topic, qos=1)
        await devices.subscribe("edumon/#", qos=1)  # devices may not read: gets nothing
        await devices.publish("edumon/vsk-1/ap/vsk-1-ap-101/state", b"ap state", qos=1)
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
