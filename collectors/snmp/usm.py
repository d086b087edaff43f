"""SNMPv3 User-based Security Model (RFC 3414 with DES, RFC 7860 for SHA-2, RFC 3826 for
AES-128; AES-192/256 as draft-blumenthal-aes-usm-04, with the key extended either as that
draft says or as draft-reeder-snmpv3-usm-3desede-00 does, which Cisco and others use).

Localized keys are kept in a bounded LRU (gateway/limits.py), and a key derived for an engine
id that a message names is kept only once that message authenticated: a sender choosing engine
ids cannot grow it. Engine ids longer than RFC 3411's 32 octets are malformed (collectors.snmp.v3).

Used by the poller's v3 transport and by the simulator's agents; checked in tests against
independent implementations: pysnmp as a manager against the simulator, and net-snmp's snmpd
as an agent for the poller.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.modes import CBC

from gateway.limits import LIMITS

try:  # cryptography >= 47 keeps CFB among the "decrepit" modes (SNMP still needs it)
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.modes import CFB
try:  # DES is TripleDES with one key repeated; cryptography >= 43 keeps it as "decrepit"
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:  # pragma: no cover - older cryptography
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES

# auth protocol -> (hash name, length of the truncated MAC)
AUTH = {
    "md5": ("md5", 12),
    "sha": ("sha1", 12),
    "sha224": ("sha224", 16),
    "sha256": ("sha256", 24),
    "sha384": ("sha384", 32),
    "sha512": ("sha512", 48),
}
PRIV = {"des": 16, "aes": 16, "aes192": 24, "aes256": 32}  # key material needed, in bytes


class UsmError(ValueError):
    """Authentication or decryption failed."""


class KeyCache:
    """A bounded LRU of derived keys."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.evicted = 0
        self._keys: OrderedDict[Hashable, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def clear(self) -> None:
        self._keys.clear()

    def get(self, what: Hashable) -> bytes | None:
        key = self._keys.get(what)
        if key is not None:
            self._keys.move_to_end(what)
        return key

    def put(self, what: Hashable, key: bytes) -> None:
        self._keys[what] = key
        self._keys.move_to_end(what)
        while len(self._keys) > self.max_entries:
            self._keys.popitem(last=False)
            self.evicted += 1


PASSWORD_KEYS = KeyCache(LIMITS["snmp_usm_password_keys"])
LOCALIZED_KEYS = KeyCache(LIMITS["snmp_usm_keys"])


def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: hash one megabyte of the repeated password."""
    if not password:
        raise UsmError("empty SNMPv3 password")
    key = PASSWORD_KEYS.get((password, hash_name))
    if key is None:
        repeated = password * (1_048_576 // len(password) + 1)
        key = hashlib.new(hash_name, repeated[:1_048_576]).digest()
        PASSWORD_KEYS.put((password, hash_name), key)
    return key


def localized_key(
    password: bytes, hash_name: str, engine_id: bytes, *, remember: bool = True
) -> bytes:
    """The key for `engine_id`; kept for next time only if `remember` (an engine id from a
    message that has not authenticated yet must not take room)."""
    key = LOCALIZED_KEYS.get((password, hash_name, engine_id))
    if key is None:
        master = password_to_key(password, hash_name)
        key = hashlib.new(hash_name, master + engine_id + master).digest()
        if remember:
            LOCALIZED_KEYS.put((password, hash_name, engine_id), key)
    return key


@dataclass(frozen=True)
class UsmUser:
    name: bytes
    auth_protocol: str | None = None
    auth_password: bytes = b""
    priv_protocol: str | None = None
    priv_password: bytes = b""
    key_extension: str = "blumenthal"  # how AES-192/256 keys grow past the hash's length

    @property
    def mac_length(self) -> int:
        return AUTH[self.auth_protocol][1] if self.auth_protocol else 0

    def auth_key(self, engine_id: bytes, *, remember: bool = True) -> bytes:
        assert self.auth_protocol is not None
        hash_name = AUTH[self.auth_protocol][0]
        return localized_key(self.auth_password, hash_name, engine_id, remember=remember)

    def priv_key(self, engine_id: bytes) -> bytes:
        """The localized privacy key, extended to the cipher's length (DES: key + pre-IV)."""
        assert self.auth_protocol is not None and self.priv_protocol is not None
        hash_name, wanted = AUTH[self.auth_protocol][0], PRIV[self.priv_protocol]
        key = localized_key(self.priv_password, hash_name, engine_id)
        while len(key) < wanted:
            if self.key_extension == "reeder":  # the password-to-key steps again, on the key
                key += localized_key(key, hash_name, engine_id)
            else:
                key += hashlib.new(hash_name, key).digest()
        return key[:wanted]

    def sign(self, message: bytes, engine_id: bytes, *, remember: bool = True) -> bytes:
        assert self.auth_protocol is not None
        key = self.auth_key(engine_id, remember=remember)
        return hmac.digest(key, message, AUTH[self.auth_protocol][0])[: self.mac_length]

    def verify(self, message_with_zeroed_mac: bytes, mac: bytes, engine_id: bytes) -> None:
        expected = self.sign(message_with_zeroed_mac, engine_id, remember=False)
        if not hmac.compare_digest(expected, mac):
            raise UsmError("wrong digest (authentication failed)")
        self.auth_key(engine_id)  # authenticated: this engine's key may be kept now

    def _cipher(
        self, engine_id: bytes, boots: int, time: int, salt: bytes
    ) -> Cipher[CFB] | Cipher[CBC]:
        key = self.priv_key(engine_id)
        if self.priv_protocol == "des":  # RFC 3414 8.1.1.1: IV = pre-IV XOR salt
            iv = bytes(a ^ b for a, b in zip(key[8:16], salt, strict=True))
            return Cipher(TripleDES(key[:8] * 3), CBC(iv))  # K1 = K2 = K3: single DES
        iv = boots.to_bytes(4, "big") + time.to_bytes(4, "big") + salt
        return Cipher(algorithms.AES(key), CFB(iv))

    def encrypt(self, plain: bytes, engine_id: bytes, boots: int, time: int, salt: bytes) -> bytes:
        if self.priv_protocol == "des":  # CBC: whole blocks; the BER length ends the PDU
            plain += bytes(-len(plain) % 8)
        encryptor = self._cipher(engine_id, boots, time, salt).encryptor()
        return encryptor.update(plain) + encryptor.finalize()

    def decrypt(self, data: bytes, engine_id: bytes, boots: int, time: int, salt: bytes) -> bytes:
        if len(salt) != 8:
            raise UsmError("privacy parameters are not an 8-byte salt")
        if self.priv_protocol == "des" and len(data) % 8:
            raise UsmError("DES-encrypted data is not whole 8-byte blocks")
        decryptor = self._cipher(engine_id, boots, time, salt).decryptor()
        return decryptor.update(data) + decryptor.finalize()
