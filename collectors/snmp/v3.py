"""SNMPv3 messages (RFC 3412) with USM security: encode, decode, authenticate, (de)crypt."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from collectors.snmp import ber
from collectors.snmp.usm import UsmError, UsmUser

VERSION_3 = 3
USM_MODEL = 3
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
MAX_SIZE = 65507
USM_STATS = "1.3.6.1.6.3.15.1.1."
UNKNOWN_ENGINE_ID = ber.encode_oid(USM_STATS + "4.0")
NOT_IN_TIME_WINDOW = ber.encode_oid(USM_STATS + "2.0")
UNKNOWN_USER = ber.encode_oid(USM_STATS + "3.0")
TIME_WINDOW_S = 150
MAX_ENGINE_ID = 32  # octets (RFC 3411 SnmpEngineID); longer is malformed
# the TLVs every message has the same: msgVersion, msgMaxSize, msgSecurityModel
VERSION_TLV = ber.tlv(ber.INTEGER, ber.encode_integer(VERSION_3))
MAX_SIZE_TLV = ber.tlv(ber.INTEGER, ber.encode_integer(MAX_SIZE))
USM_MODEL_TLV = ber.tlv(ber.INTEGER, ber.encode_integer(USM_MODEL))


@dataclass
class V3Message:
    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    time: int
    user: bytes
    pdu: int
    request_id: int
    error_status: int = 0
    error_index: int = 0
    varbinds: list[ber.VarBind] = field(default_factory=list)
    context_engine_id: bytes = b""
    context_name: bytes = b""


def flags_for(user: UsmUser | None) -> int:
    if user is None or user.auth_protocol is None:
        return 0
    return FLAG_AUTH | (FLAG_PRIV if user.priv_protocol else 0)


def encode_v3(message: V3Message, user: UsmUser | None) -> bytes:
    """The wire bytes, signed and encrypted as `message.flags` asks (with `user`'s keys)."""
    scoped = ber.tlv(
        ber.SEQUENCE,
        ber.tlv(ber.OCTET_STRING, message.context_engine_id)
        + ber.tlv(ber.OCTET_STRING, message.context_name)
        + ber.encode_pdu(
            message.pdu,
            message.request_id,
            message.error_status,
            message.error_index,
            message.varbinds,
        ),
    )
    salt = b""
    if message.flags & FLAG_PRIV:
        assert user is not None
        salt = os.urandom(8)
        data = ber.tlv(
            ber.OCTET_STRING,
            user.encrypt(scoped, message.engine_id, message.boots, message.time, salt),
        )
    else:
        data = scoped
    mac_length = user.mac_length if message.flags & FLAG_AUTH and user else 0
    before_mac = (
        ber.tlv(ber.OCTET_STRING, message.engine_id)
        + ber.tlv(ber.INTEGER, ber.encode_integer(message.boots))
        + ber.tlv(ber.INTEGER, ber.encode_integer(message.time))
        + ber.tlv(ber.OCTET_STRING, message.user)
    )
    usm_inner = (
        before_mac + ber.tlv(ber.OCTET_STRING, bytes(mac_length)) + ber.tlv(ber.OCTET_STRING, salt)
    )
    usm = ber.tlv(ber.SEQUENCE, usm_inner)
    head = VERSION_TLV + ber.tlv(
        ber.SEQUENCE,
        ber.tlv(ber.INTEGER, ber.encode_integer(message.msg_id))
        + MAX_SIZE_TLV
        + ber.tlv(ber.OCTET_STRING, bytes((message.flags,)))
        + USM_MODEL_TLV,
    )
    security = ber.tlv(ber.OCTET_STRING, usm)
    body = head + security + data
    wire = ber.tlv(ber.SEQUENCE, body)
    if not mac_length:
        return wire
    assert user is not None
    # where the zeroed MAC sits: each enclosing header, then before_mac and the MAC's TLV header
    offset = (
        (len(wire) - len(body))
        + len(head)
        + (len(security) - len(usm))
        + (len(usm) - len(usm_inner))
        + len(before_mac)
        + 2
    )
    mac = user.sign(wire, message.engine_id)
    return wire[:offset] + mac + wire[offset + mac_length :]


def is_v3(data: bytes) -> bool:
    """Cheap check of the version field (first INTEGER inside the outer SEQUENCE)."""
    try:
        pos, end = ber.read_tlv(data, 0, len(data), ber.SEQUENCE, "message")
        version, _ = ber.read_integer(data, pos, end, "version")
    except ber.BerError:
        return False
    return version == VERSION_3


def v3_message_id(data: bytes) -> int:
    """The msgID a v3 reply is matched by (read before it can be authenticated)."""
    start, end = ber.read_tlv(data, 0, len(data), ber.SEQUENCE, "message")
    _version, pos = ber.read_integer(data, start, end, "version")
    start, _ = ber.read_tlv(data, pos, end, ber.SEQUENCE, "msgGlobalData")
    return ber.read_integer(data, start, end, "msgID")[0]


def decode_v3(data: bytes, user_for: Callable[[bytes], UsmUser | None]) -> V3Message:
    """Parse, authenticate and decrypt. Raises BerError (malformed) or UsmError (security)."""
    start, end = ber.read_tlv(data, 0, len(data), ber.SEQUENCE, "message")
    version, pos = ber.read_integer(data, start, end, "version")
    if version != VERSION_3:
        raise ber.BerError(f"not SNMPv3 (version {version})")
    start, pos = ber.read_tlv(data, pos, end, ber.SEQUENCE, "msgGlobalData")
    msg_id, inner = ber.read_integer(data, start, pos, "msgID")
    _max_size, inner = ber.read_integer(data, inner, pos, "msgMaxSize")
    flags_start, inner = ber.read_tlv(data, inner, pos, ber.OCTET_STRING, "msgFlags")
    flags = data[flags_start] if inner > flags_start else 0
    model, _ = ber.read_integer(data, inner, pos, "msgSecurityModel")
    if model != USM_MODEL:
        raise ber.BerError(f"security model {model} is not USM")
    security_start, pos = ber.read_tlv(data, pos, end, ber.OCTET_STRING, "msgSecurityParameters")
    start, security_end = ber.read_tlv(
        data, security_start, pos, ber.SEQUENCE, "UsmSecurityParameters"
    )
    a, start = ber.read_tlv(data, start, security_end, ber.OCTET_STRING, "engine id")
    if start - a > MAX_ENGINE_ID:
        raise ber.BerError(f"engine id of {start - a} octets (at most {MAX_ENGINE_ID})")
    engine_id = data[a:start]
    boots, start = ber.read_integer(data, start, security_end, "engine boots")
    time, start = ber.read_integer(data, start, security_end, "engine time")
    a, start = ber.read_tlv(data, start, security_end, ber.OCTET_STRING, "user name")
    user_name = data[a:start]
    mac_start, mac_end = ber.read_tlv(
        data, start, security_end, ber.OCTET_STRING, "auth parameters"
    )
    a, b = ber.read_tlv(data, mac_end, security_end, ber.OCTET_STRING, "privacy parameters")
    salt = data[a:b]
    user = user_for(user_name)
    if flags & FLAG_AUTH:
        if user is None or user.auth_protocol is None:
            raise UsmError(f"unknown user {user_name!r} or no authentication key")
        mac = data[mac_start:mac_end]
        if len(mac) != user.mac_length:
            raise UsmError("authentication parameters have the wrong length")
        user.verify(data[:mac_start] + bytes(len(mac)) + data[mac_end:], mac, engine_id)
    if flags & FLAG_PRIV:
        if user is None or user.priv_protocol is None:
            raise UsmError(f"no privacy key for user {user_name!r}")
        a, b = ber.read_tlv(data, pos, end, ber.OCTET_STRING, "encrypted PDU")
        scoped = user.decrypt(data[a:b], engine_id, boots, time, salt)
        start, scoped_end = ber.read_tlv(scoped, 0, len(scoped), ber.SEQUENCE, "scoped PDU")
    else:
        scoped, scoped_end = data, end
        start, scoped_end = ber.read_tlv(data, pos, end, ber.SEQUENCE, "scoped PDU")
    a, start = ber.read_tlv(scoped, start, scoped_end, ber.OCTET_STRING, "context engine id")
    context_engine_id = scoped[a:start]
    a, start = ber.read_tlv(scoped, start, scoped_end, ber.OCTET_STRING, "context name")
    context_name = scoped[a:start]
    pdu, request_id, error_status, error_index, varbinds = ber.decode_pdu(scoped, start, scoped_end)
    return V3Message(
        msg_id,
        flags,
        engine_id,
        boots,
        time,
        user_name,
        pdu,
        request_id,
        error_status,
        error_index,
        varbinds,
        context_engine_id,
        context_name,
    )
