"""`edumon snmp profile -c CONFIG --device ID`: ask a switch who it is, say which profile
matches it, from which file and why (the same choice the poller makes), and which of the
profile's values the switch answers."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from collectors.snmp.client import SnmpError, UdpSockets
from collectors.snmp.poller import SnmpTarget, read_system, system_identity
from collectors.snmp.profile_config import profiles_for
from collectors.snmp.profile_model import Profile
from collectors.snmp.profile_reader import Walked, device_fields, read
from collectors.snmp.profiles import match_profile
from gateway.collector import ConfigLoader
from gateway.config import EdumonConfig
from gateway.plausible import Refused

PRECEDENCE = (
    "the switch's profile: in the config, then your own edumon profiles, then ecosystem"
    " (Datadog/Kentik format) and shipped profiles by the most specific sysObjectID, an"
    " ecosystem profile first on a tie"
)


def add_commands(subparsers: argparse._SubParsersAction[Any], load_config: ConfigLoader) -> None:
    snmp = subparsers.add_parser("snmp", help="SNMP tools")
    tools = snmp.add_subparsers(dest="snmp_command", required=True)
    profile = tools.add_parser("profile", help="which device profile a switch matches, and why")
    profile.add_argument("-c", "--config", required=True, help="the config file")
    profile.add_argument("--device", required=True, metavar="ID", help="the switch's id")
    profile.set_defaults(func=cmd_profile, load_config=load_config)


def cmd_profile(args: argparse.Namespace) -> int:
    return asyncio.run(explain(args.load_config(args.config), args.device))


async def explain(config: EdumonConfig, device: str) -> int:
    from collectors.snmp.config import SnmpSettings
    from collectors.snmp.plugin import snmp_targets

    settings = config.settings_of("snmp", SnmpSettings)
    profiles = profiles_for(settings)
    sockets = UdpSockets()
    try:
        targets = [job.target for job in snmp_targets(config, sockets)]
        target = next(
            (t for t in targets if isinstance(t, SnmpTarget) and t.device == device), None
        )
        if target is None:
            known = ", ".join(t.device for t in targets if isinstance(t, SnmpTarget)) or "none"
            print(f"no switch {device!r} in the config (switches: {known})", file=sys.stderr)
            return 1
        object_id, descr = system_identity(await read_system(target.transport))
        matched = match_profile(profiles, object_id, descr, forced=target.profile)
        walked = await read(target.transport, matched.profile, target.max_repetitions)
    except SnmpError as error:
        print(f"{device}: {error}", file=sys.stderr)
        return 1
    finally:
        sockets.close()
    print(f"device       {device}")
    print(f"sysObjectID  {object_id or '(none)'}")
    print(f"sysDescr     {descr or '(none)'}")
    print(f"profile      {' -> '.join(_lineage(matched.profile, profiles))}")
    if matched.profile._file:
        print(f"file         {matched.profile._file}")
    print(f"why          {matched.why}")
    print(f"precedence   {PRECEDENCE}")
    for line in answered(matched.profile, walked):
        print(line)
    return 0


def answered(profile: Profile, walked: Walked) -> list[str]:
    """What of the profile the device answered: each device field, each snmp_metric."""
    refused: list[Refused] = []
    values = device_fields(profile, walked, {}, refused)
    why_not = {r.field: f"refused {r.value:g} ({r.reason})" for r in refused}
    lines = []
    for name, sources in profile.device.items():
        if all(source.sensors is not None for source in sources):
            continue  # from the sensor tables, shown in `edumon test`
        got = values.get(name)
        lines.append(f"  {name:<24} {why_not.get(name, 'no answer') if got is None else got}")
    for metric in profile.metrics:
        rows = len(walked.column(metric.oid))
        lines.append(f"  {metric.name:<24} {f'{rows} row(s)' if rows else 'no answer'}")
    return ["answered", *lines] if lines else []


def _lineage(profile: Profile, profiles: dict[str, Profile]) -> list[str]:
    names = [profile.name]
    while (parent := profiles[names[-1]].extends) is not None and parent not in names:
        names.append(parent)
    return names
