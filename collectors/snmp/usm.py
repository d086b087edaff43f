"""SNMPv3 User-based Security Model (RFC 3414, RFC 7860 for SHA-2, RFC 3826 for AES-128).

Used by the poller's v3 transport and by the simulator's agents; checked in tests against
independent implementations: pysnmp as a manager against the simulator, and net-snmp's snmpd
as an agent for the poller.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

try:  # cryptography >= 47 keeps CFB among the "decrepit" modes (SNMP still needs it)
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB

# auth protocol -> (hash name, length of the truncated MAC)
AUTH = {
    "md5": ("md5", 12),
    "sha": ("sha1", 12),
    "sha224": ("sha224", 16),
    "sha256": ("sha256", 24),
    "sha384": ("sha384", 32),
    "sha512": ("sha512", 48),
}
PRIV = {"aes": 16}  # AES-128-CFB; key length in bytes


class UsmError(ValueError):
    """Authentication or decryption failed."""


@cache
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: hash one megabyte of the repeated password."""
    if not password:
        raise UsmError("empty SNMPv3 password")
    repeated = password * (1_048_576 // len(password) + 1)
    return hashlib.new(hash_name, repeated[:1_048_576]).digest()


@cache
def localized_key(password: bytes, hash_name: str, engine_id: bytes) -> bytes:
    key = password_to_key(password, hash_name)
    return hashlib.new(hash_name, key + engine_id + key).digest()


@dataclass(frozen=True)
class UsmUser:
    name: bytes
    auth_protocol: str | None = None
    auth_password: bytes = b""
    priv_protocol: str | None = None
    priv_password: bytes = b""

    @property
    def mac_length(self) -> int:
        return AUTH[self.auth_protocol][1] if self.auth_protocol else 0

    def auth_key(self, engine_id: bytes) -> bytes:
        assert self.auth_protocol is not None
        return localized_key(self.auth_password, AUTH[self.auth_protocol][0], engine_id)

    def priv_key(self, engine_id: bytes) -> bytes:
        assert self.auth_protocol is not None and self.priv_protocol is not None
        return localized_key(self.priv_password, AUTH[self.auth_protocol][0], engine_id)[
            : PRIV[self.priv_protocol]
        ]

    def sign(self, message: bytes, engine_id: bytes) -> bytes:
        assert self.auth_protocol is not None
        digest = hmac.new(self.auth_key(engine_id), message, AUTH[self.auth_protocol][0]).digest()
        return digest[: self.mac_length]

    def verify(self, message_with_zeroed_mac: bytes, mac: bytes, engine_id: bytes) -> None:
        if not hmac.compare_digest(self.sign(message_with_zeroed_mac, engine_id), mac):
            raise UsmError("wrong digest (authentication failed)")

    def _cipher(self, engine_id: bytes, boots: int, time: int, salt: bytes) -> Cipher[CFB]:
        iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
        return Cipher(algorithms.AES(self.priv_key(engine_id)), CFB(iv))

    def encrypt(self, plain: bytes, engine_id: bytes, boots: int, time: int, salt: bytes) -> bytes:
        encryptor = self._cipher(engine_id, boots, time, salt).encryptor()
        return encryptor.update(plain) + encryptor.finalize()

    def decrypt(self, data: bytes, engine_id: bytes, boots: int, time: int, salt: bytes) -> bytes:
        if len(salt) != 8:
            raise UsmError("privacy parameters are not an 8-byte salt")
        decryptor = self._cipher(engine_id, boots, time, salt).decryptor()
        return decryptor.update(data) + decryptor.finalize()
