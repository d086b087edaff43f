"""`edumon demo fault`'s channel and the faults themselves on the simulators: a switch made
silent answers nothing until cleared, a sensor's CO2 climbs and comes back, an unknown target
is refused with its reason and starts nothing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from collectors.snmp import ber
from gateway.devstack.demo_control import FaultControl, request_faults
from gateway.devstack.demo_faults import DemoWorld
from simulators.lorawan.network_server import NetworkServerSimulator, SimSensor
from simulators.mqtt.devices import DeviceFleet, SimDevice
from simulators.snmp.agent import SnmpFleet
from simulators.snmp.switch import SimSwitch
from tests.netsnmp import free_udp_port

pytestmark = pytest.mark.integration
SYS_NAME = ber.encode_oid("1.3.6.1.2.1.1.5.0")


async def answers(port: int) -> bool:
    """Whether the switch on `port` answers a v2c GET of sysName.0 within 0.5 s."""
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", port))
    varbind = ber.VarBind(SYS_NAME, ber.NULL, b"")
    transport.sendto(ber.encode_message(b"c", ber.GET, 1, 0, 0, [varbind]))
    try:
        await asyncio.wait_for(got, 0.5)
        return True
    except TimeoutError:
        return False
    finally:
        transport.close()


async def test_faults_start_and_clear_on_the_simulators(tmp_path: Path) -> None:
    port = free_udp_port()
    switches = SnmpFleet(
        [(SimSwitch("sw-1", seed=1, boot=time.time() - 60), "127.0.0.1", port)], b"c"
    )
    await switches.start()
    devices = DeviceFleet("127.0.0.1", 1, [SimDevice("s", "ex-1", "exhibit", "hall")])
    sensors = NetworkServerSimulator(
        "127.0.0.1", 1, [SimSensor("70b3d57ed0050001", "co2-1", "x", "ttn")]
    )
    control = FaultControl(tmp_path, DemoWorld(switches, devices, sensors, time.time))
    running = asyncio.create_task(control.run())
    try:
        assert await answers(port)
        wanted = [("switch-silent", "sw-1"), ("co2-rising", "co2-1"), ("exhibit-crash", "nope")]
        state = await asyncio.to_thread(request_faults, tmp_path, wanted)
        assert state is not None
        assert [(e["fault"], e["target"]) for e in state["active"]] == wanted[:2]
        (refused,) = state["refused"]
        assert refused["target"] == "nope" and "no exhibit 'nope'" in refused["reason"]
        assert not await answers(port)
        later = time.time() + 120
        assert sensors.co2_extra_ppm("co2-1", later) >= 600  # two minutes: +600 ppm
        assert sensors.co2_extra_ppm("other", later) == 0
        state = await asyncio.to_thread(request_faults, tmp_path, [])
        assert state is not None and state["active"] == [] and state["refused"] == []
        assert await answers(port)
        assert sensors.co2_extra_ppm("co2-1", later) == 0
    finally:
        running.cancel()
        switches.close()
