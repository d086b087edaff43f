"""SNMPv3 as fleets configure it, each kind against a net-snmp snmpd user of that kind:
auth MD5, SHA, SHA-224/256/384/512; privacy DES, AES-128, AES-192 and AES-256 with both key
extensions (net-snmp's AES192/AES256 users extend keys as the Blumenthal draft says, its
AES192C/AES256C users as the Reeder draft, like Cisco)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from collectors.snmp import ber
from collectors.snmp.client import SnmpError, UdpSockets
from collectors.snmp.usm import UsmUser
from collectors.snmp.v3_transport import V3Transport
from tests.netsnmp import serve_snmpd

pytestmark = pytest.mark.integration
AUTH, PRIV = "test-only-auth-key", "test-only-priv-key"
SYS_NAME = ber.encode_oid("1.3.6.1.2.1.1.5.0")
# user: (net-snmp auth, net-snmp priv, our auth, our priv, our key extension)
USERS = {
    "md5-des": ("MD5", "DES", "md5", "des", "blumenthal"),
    "sha-aes": ("SHA", "AES", "sha", "aes", "blumenthal"),
    "sha224-aes": ("SHA-224", "AES", "sha224", "aes", "blumenthal"),
    "sha256-des": ("SHA-256", "DES", "sha256", "des", "blumenthal"),
    "sha-aes192": ("SHA", "AES192", "sha", "aes192", "blumenthal"),
    "sha-aes256": ("SHA", "AES256", "sha", "aes256", "blumenthal"),
    "md5-aes256": ("MD5", "AES256", "md5", "aes256", "blumenthal"),
    "sha-aes192c": ("SHA", "AES192C", "sha", "aes192", "reeder"),
    "sha-aes256c": ("SHA", "AES256C", "sha", "aes256", "reeder"),
    "sha384-aes256": ("SHA-384", "AES256", "sha384", "aes256", "blumenthal"),
    "sha512-aes256c": ("SHA-512", "AES256C", "sha512", "aes256", "reeder"),
}
PROBE = ["-v3", "-l", "authPriv", "-u", "sha-aes", "-a", "SHA", "-A", AUTH, "-x", "AES", "-X", PRIV]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    config = "".join(
        f'createUser {name} {auth} "{AUTH}" {priv} "{PRIV}"\nrouser {name} priv\n'
        for name, (auth, priv, *_ours) in USERS.items()
    )
    config += "sysName snmpd-v3-lab\n"
    yield from serve_snmpd(tmp_path_factory.mktemp("snmpd-v3-variants"), config, PROBE)


def user(name: str, extension: str | None = None) -> UsmUser:
    _auth, _priv, auth, priv, ours = USERS[name]
    return UsmUser(name.encode(), auth, AUTH.encode(), priv, PRIV.encode(), extension or ours)


async def sys_name(port: int, usm_user: UsmUser) -> bytes:
    sockets = UdpSockets()
    try:
        transport = V3Transport(
            sockets, "snmpd", "127.0.0.1", port, usm_user, timeout_s=1, retries=0
        )
        (varbind,) = await transport.get([SYS_NAME])
        return varbind.raw
    finally:
        sockets.close()


@pytest.mark.parametrize("name", USERS)
async def test_each_auth_and_privacy_kind_against_net_snmp(snmpd: int, name: str) -> None:
    assert await sys_name(snmpd, user(name)) == b"snmpd-v3-lab"


@pytest.mark.parametrize(
    ("name", "wrong"), [("sha-aes256", "reeder"), ("sha-aes256c", "blumenthal")]
)
async def test_the_key_extension_must_be_the_agents(snmpd: int, name: str, wrong: str) -> None:
    """SHA-1 gives 20 bytes, AES-256 needs 32: the two drafts' keys differ, and only the
    agent's one decrypts."""
    with pytest.raises(SnmpError):
        await sys_name(snmpd, user(name, wrong))
