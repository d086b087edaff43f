"""The SNMP collector's plugin: the inventory's switches, polled, and the trap listener."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from collectors.snmp.cli import add_commands
from collectors.snmp.client import SnmpTransport, UdpSockets, V2cTransport
from collectors.snmp.config import SnmpCredential, SnmpSettings, Switch
from collectors.snmp.discovery.jobs import discovery_jobs
from collectors.snmp.interface_cap import InterfaceCap
from collectors.snmp.poller import SnmpPoller, SnmpTarget
from collectors.snmp.profile_config import profile_problems, profiles_for
from collectors.snmp.trap_sources import TrapSource, TrapSources
from collectors.snmp.traps import TrapReceiver
from collectors.snmp.usm import LOCALIZED_KEYS, PASSWORD_KEYS, UsmUser
from collectors.snmp.v3_transport import V3Transport
from collectors.snmp.wifi import WifiController
from collectors.snmp.wifi_model import load_wifi_profiles
from gateway.collector import (
    Collector,
    CollectorContext,
    CollectorEmit,
    CollectorPlugin,
    PolledJob,
    PollSchedule,
    RawData,
    Stream,
    Totals,
)
from gateway.config import EdumonConfig
from gateway.intake_health import CollectorHealth
from gateway.inventory import raw_devices
from gateway.yaml_lines import Path as KeyPath

log = logging.getLogger(__name__)


def snmp_targets(
    config: EdumonConfig, sockets: UdpSockets, poller: SnmpPoller | None = None
) -> list[PolledJob]:
    settings = config.settings_of("snmp", SnmpSettings)
    credentials = config.credentials_of("snmp", SnmpCredential)
    poller = poller or SnmpPoller(profiles=profiles_for(settings))
    sites = frozenset(site.id for site in config.sites)
    jobs = [
        job_for(site.id, device, credentials[device.credentials], settings, sockets, poller, sites)
        for site, device in config.devices_of(Switch)
    ]
    poller.profile_choices.expected = len(jobs)
    # a round: by then every switch had its first poll
    poller.profile_choices.round_s = max((j.schedule.interval_s for j in jobs), default=0.0)
    return jobs


def job_for(
    site: str,
    device: Switch,
    credential: SnmpCredential,
    settings: SnmpSettings,
    sockets: UdpSockets,
    poller: SnmpPoller,
    sites: frozenset[str] = frozenset(),  # the inventory's, for a Wi-Fi controller's APs
) -> PolledJob:
    interval = device.interval_s or settings.interval_s
    timeout = device.timeout_s or settings.timeout_s
    retries = settings.retries if device.retries is None else device.retries
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
        community = credential.community
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
        site,
        device.id,
        device.role,
        transport,
        settings.max_repetitions,
        deadline,
        profile=device.profile,
        uplinks=frozenset(device.uplinks),
        include=tuple(device.include),
        exclude=tuple(device.exclude),
        uplink_alias_pattern=settings.uplink_alias_pattern,
        wifi=WifiController.of(device.wifi, sites),
        metric_limit=settings.metric_limit,
    )
    return PolledJob(poller, target, PollSchedule(device.id, interval, deadline + 1.0))


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
        credential.priv_key_extension,
    )


def trap_receiver(config: EdumonConfig, poller: SnmpPoller) -> TrapReceiver | None:
    settings = config.settings_of("snmp", SnmpSettings)
    if settings.trap_listen is None:
        return None
    host, _, port = settings.trap_listen.rpartition(":")
    credentials = config.credentials_of("snmp", SnmpCredential).values()
    communities = {c.get_secret_value().encode() for cred in credentials if (c := cred.community)}
    users = [usm_user(cred) for cred in credentials if cred.version == "3"]
    return TrapReceiver(
        host.strip("[]"),
        int(port),
        communities,
        trap_sources(config),
        poller.interface,
        users=users,
        engines_path=Path(config.service.state_dir) / "snmp" / "trap_engines.json",
    )


def trap_sources(config: EdumonConfig, jobs: Sequence[PolledJob] = ()) -> TrapSources:
    """The config's switches by address; SNMPv3 ones also by the engine their `jobs` found."""
    sources = TrapSources(
        (device.address, TrapSource(site.id, device.id, device.role))
        for site, device in config.devices_of(Switch)
    )
    sources.device_of_engine = engines_of(jobs)
    return sources


def engines_of(jobs: Sequence[PolledJob]) -> Callable[[bytes], str | None]:
    """engine id -> the device whose SNMPv3 engine the polls discovered with that id."""
    v3 = [
        (job.target.device, job.target.transport)
        for job in jobs
        if isinstance(job.target.transport, V3Transport)
    ]

    def device_of(engine_id: bytes) -> str | None:
        return next((device for device, t in v3 if t.engine_id == engine_id), None)

    return device_of


def open_snmp(context: CollectorContext) -> Collector:
    config, metrics = context.config, context.metrics
    settings = config.settings_of("snmp", SnmpSettings)
    sockets = UdpSockets()
    cap = InterfaceCap(settings.max_interfaces_per_device)
    poller = SnmpPoller(
        on_discard=lambda reason: metrics.discarded.labels("snmp", reason).inc(),
        profiles=profiles_for(settings),
        on_refused=lambda device, field, reason: metrics.refused.labels(
            device, field, reason
        ).inc(),
        interface_cap=cap,
        wifi_profiles=load_wifi_profiles(settings.profile_dirs),
    )
    metrics.bounds.watch(
        "snmp_interfaces_per_device",
        cap.largest,
        lambda: sum(cap.refused.values()),
        limit=cap.max_per_device,
    )
    receiver = trap_receiver(config, poller)
    jobs = snmp_targets(config, sockets, poller)
    discovery, discovery_polled = discovery_jobs(config, jobs, poller, context.observe, metrics)
    # every transport and discovery reader opened, also by a reload: totals never go back
    transports = [job.target.transport for job in jobs]
    discoveries = [discovery]

    def jobs_for(new_config: EdumonConfig) -> list[PolledJob]:
        """A reload's jobs (polls and discovery rounds); traps are matched to its devices."""
        new_jobs = snmp_targets(new_config, sockets, poller)
        transports.extend(job.target.transport for job in new_jobs)
        new_discovery, new_discovery_jobs = discovery_jobs(
            new_config, new_jobs, poller, context.observe, metrics
        )
        discoveries.append(new_discovery)
        if receiver is not None:
            receiver.sources = trap_sources(new_config, new_jobs)
        return [*new_jobs, *new_discovery_jobs]

    def request_totals() -> Totals:
        totals: dict[tuple[str, str], int] = {}
        for name in ("requests", "retries", "timeouts", "malformed", "varbinds", "not_increasing"):
            totals["request", name] = sum(getattr(t.stats, name) for t in transports)
        # APs that Wi-Fi controllers report and the config places nowhere (collectors/snmp/wifi.py)
        totals["wifi", "unplaced_aps"] = sum(map(len, poller.wifi.unplaced.values()))
        # controllers with `wifi:` that no Wi-Fi profile matches, or whose profile finds no AP
        totals["wifi", "unmatched_controllers"] = len(poller.wifi.unmatched)
        totals["wifi", "controllers_without_aps"] = len(poller.wifi.empty)
        for reader in discoveries:
            for key, n in reader.totals.as_totals().items():
                totals[key] = totals.get(key, 0) + n
        return totals

    collector = Collector(
        polled=[*jobs, *discovery_polled],
        close=sockets.close,
        max_concurrent=settings.max_concurrent,
        poll_totals=request_totals,
        poll_warning=cap.problem,
        jobs_for=jobs_for,
    )
    metrics.bounds.watch("snmp_usm_keys", LOCALIZED_KEYS.__len__, lambda: LOCALIZED_KEYS.evicted)
    metrics.bounds.watch(
        "snmp_usm_password_keys", PASSWORD_KEYS.__len__, lambda: PASSWORD_KEYS.evicted
    )
    if receiver is not None:
        receiver.sources.device_of_engine = engines_of(jobs)
        queue, timeliness = receiver.queue, receiver.timeliness
        metrics.bounds.watch("snmp_trap_queue", queue.__len__, lambda: queue.dropped)
        metrics.bounds.watch("snmp_trap_engines", timeliness.__len__)
        collector.streams.append(
            Stream("snmp-traps", settings.trap_listen or "", lambda e, h: run_traps(receiver, e, h))
        )
    return collector


async def run_traps(receiver: TrapReceiver, emit: CollectorEmit, health: CollectorHealth) -> None:
    """The trap socket as a stream: connected while bound; every datagram counted by outcome."""

    health.add_totals("traps", receiver.stats.totals)
    health.add_totals("trap_queue", lambda: {("dropped", "queue_full"): receiver.queue.dropped})
    health.add_warning("trap_queue", receiver.queue.problem)
    task = asyncio.create_task(receiver.run(emit))
    try:
        bound = asyncio.create_task(receiver.bound.wait())
        await asyncio.wait({task, bound}, return_when=asyncio.FIRST_COMPLETED)
        if receiver.bound.is_set():
            health.connect(f"listening on udp {receiver.host}:{receiver.port}")
        await task
    except OSError as error:
        health.disconnect(f"cannot listen on udp {receiver.host}:{receiver.port}: {error}")
        raise
    finally:
        task.cancel()


def credential_problems(data: RawData) -> Iterator[tuple[KeyPath, str]]:
    """Switches naming SNMP credentials that are not defined."""
    credentials = data.get("credentials")
    snmp = credentials.get("snmp") if isinstance(credentials, dict) else None
    known = sorted(str(name) for name in snmp) if isinstance(snmp, dict) else []
    for at, device in raw_devices(data):
        name = device.get("credentials")
        if device.get("kind") == "switch" and isinstance(name, str) and name not in known:
            listed = ", ".join(known) or "none defined"
            yield (*at, "credentials"), f"unknown SNMP credentials {name!r} (known: {listed})"


def _wanted(config: EdumonConfig) -> bool:
    settings = config.settings_of("snmp", SnmpSettings)
    return settings.trap_listen is not None or any(config.devices_of(Switch))


PLUGIN = CollectorPlugin(
    name="snmp",
    open=open_snmp,
    devices=(Switch,),
    settings_key="snmp",
    settings=SnmpSettings,
    credentials=SnmpCredential,
    relative_paths=("profile_dirs",),
    config_problems=lambda data: chain(credential_problems(data), profile_problems(data)),
    device_tags=(
        ("device", "device"),
        ("interface", "device"),
        ("optics", "device"),
        ("snmp_metric", "device"),
        ("poe", "device"),
    ),
    wanted=_wanted,
    add_commands=add_commands,
)
