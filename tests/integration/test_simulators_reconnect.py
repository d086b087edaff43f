"""The simulated devices and the LoRaWAN network server reconnect after a broker restart, as
real ones do: what they publish after it reaches the broker again."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from gateway.devstack.servers import Mosquitto
from simulators.lorawan.network_server import NetworkServerSimulator, SimSensor
from simulators.mqtt.devices import DeviceFleet, SimDevice

pytestmark = pytest.mark.integration


async def test_devices_and_the_network_server_reconnect_after_a_broker_restart(
    tmp_path: Path,
) -> None:
    with Mosquitto(tmp_path / "broker") as broker:
        devices = [SimDevice("vsk-1", "vsk-1-ap-101", "ap", "101")]
        fleet = DeviceFleet("127.0.0.1", broker.port, devices, period_s=0.2)
        sensors = [SimSensor("70b3d57ed0000009", "co2-9", "env-sensor", "chirpstack")]
        network = NetworkServerSimulator("127.0.0.1", broker.port, sensors)
        publishing = asyncio.create_task(fleet.run())
        # 20 rounds: ~7 before the restart (1.5 s), the rest only once it has reconnected
        uplinks = asyncio.create_task(network.run(rounds=20, period_s=0.2))
        await asyncio.sleep(1.5)
        await asyncio.to_thread(broker.stop)
        await asyncio.sleep(1.0)
        before = fleet.published
        await asyncio.to_thread(broker.start)
        async with asyncio.timeout(30):
            while True:
                if fleet.published > before + 3:
                    break
                await asyncio.sleep(0.2)
            await uplinks  # every round sent, across the restart
        devices[0].crashed = True
        publishing.cancel()  # rather than wait out its reconnect backoff
        with contextlib.suppress(asyncio.CancelledError):
            await publishing
    assert devices[0].reconnects >= 1 and network.stats.reconnects >= 1
    assert sum(network.stats.uplinks.values()) > 0
