"""SNMP polling of the inventory's switches and the trap listener, run by the service."""

from __future__ import annotations

import asyncio
import logging

from collectors.snmp.client import SnmpTransport, UdpSockets, V2cTransport
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.traps import TrapReceiver, TrapSource
from collectors.snmp.usm import UsmUser
from collectors.snmp.v3_transport import V3Transport
from gateway.collector import CollectorEmit, PollSchedule, PollScheduler
from gateway.config import EdumonConfig
from gateway.inventory import SnmpCredential, Switch
from gateway.metrics import Metrics

log = logging.getLogger(__name__)


def snmp_targets(
    config: EdumonConfig, sockets: UdpSockets
) -> list[tuple[SnmpTarget, PollSchedule]]:
    defaults, jobs = config.defaults, []
    for site, device in config.devices("switch"):
        assert isinstance(device, Switch)
        credential = config.credentials.snmp[device.credentials]
        interval = device.interval_s or defaults.snmp_interval_s
        timeout = device.timeout_s or defaults.snmp_timeout_s
        retries = defaults.snmp_retries if device.retries is None else device.retries
        transport: SnmpTransport
        if credential.version == "3":
            transport = V3Transport(
                sockets,
                device.id,
                device.address,
                device.port,
                usm_user(credential),
                timeout_s=timeout,
                retries=retries,
            )
        else:
            community = credential.secret("community")
            assert community is not None  # config validation guarantees it
            transport = V2cTransport(
                sockets,
                device.id,
                device.address,
                device.port,
                community.get_secret_value().encode(),
                timeout_s=timeout,
                retries=retries,
            )
        # the whole poll must end inside the interval, whatever the device does
        deadline = min(interval * 0.8, max(timeout * (retries + 1) * 3, timeout))
        target = SnmpTarget(
            site.id, device.id, device.role, transport, config.snmp.max_repetitions, deadline
        )
        jobs.append((target, PollSchedule(device.id, interval, deadline + 1.0)))
    return jobs


def usm_user(credential: SnmpCredential) -> UsmUser:
    def secret(name: str) -> bytes:
        value = credential.secret(name)
        return value.get_secret_value().encode() if value is not None else b""

    assert credential.user is not None
    return UsmUser(
        credential.user.encode(),
        credential.auth_protocol,
        secret("auth_password"),
        credential.priv_protocol,
        secret("priv_password"),
    )


def trap_receiver(config: EdumonConfig, poller: SnmpPoller) -> TrapReceiver | None:
    if config.snmp.trap_listen is None:
        return None
    host, _, port = config.snmp.trap_listen.rpartition(":")
    communities = {
        c.get_secret_value().encode()
        for credential in config.credentials.snmp.values()
        if (c := credential.secret("community")) is not None
    }
    sources = {
        device.address: TrapSource(site.id, device.id, device.role)
        for site, device in config.devices("switch")
        if isinstance(device, Switch)
    }
    return TrapReceiver(host.strip("[]"), int(port), communities, sources, poller.interface)


async def run_snmp(config: EdumonConfig, emit: CollectorEmit, metrics: Metrics) -> None:
    sockets = UdpSockets()
    poller = SnmpPoller(on_discard=lambda reason: metrics.discarded.labels("snmp", reason).inc())
    scheduler = PollScheduler(emit, metrics, max_concurrent=config.snmp.max_concurrent)
    receiver = trap_receiver(config, poller)
    try:
        async with asyncio.TaskGroup() as group:
            for target, schedule in snmp_targets(config, sockets):
                group.create_task(scheduler.run_target(poller, target, schedule))
            if receiver is not None:
                group.create_task(receiver.run(emit))
    finally:
        sockets.close()
