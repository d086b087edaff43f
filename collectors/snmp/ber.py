"""A lean BER codec for SNMPv2c messages: the hot path of polling and of the simulator.

pysnmp decodes through pyasn1 object trees (about 5,000 varbinds per CPU-second here); this
codec decodes a GETBULK response into flat tuples. Its output is checked against pysnmp's own
encoder and decoder in tests/unit/test_snmp_ber.py.

OIDs stay in their encoded form (the BER content octets) while walking: the encoding of a
subtree's OID is a byte prefix of every OID below it, so "still inside the column?" is a
`startswith`, and only the index suffix is ever turned into numbers.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

# value tags
INTEGER, OCTET_STRING, NULL, OBJECT_ID = 0x02, 0x04, 0x05, 0x06
IP_ADDRESS, COUNTER32, GAUGE32, TIMETICKS, OPAQUE, COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW = 0x80, 0x81, 0x82
EXCEPTIONS = frozenset({NO_SUCH_OBJECT, NO_SUCH_INSTANCE, END_OF_MIB_VIEW})
UNSIGNED = frozenset({COUNTER32, GAUGE32, TIMETICKS, COUNTER64})
# PDU tags
GET, GET_NEXT, RESPONSE, GET_BULK, INFORM, TRAP_V2, REPORT = (
    0xA0,
    0xA1,
    0xA2,
    0xA5,
    0xA6,
    0xA7,
    0xA8,
)
SEQUENCE = 0x30
VERSION_2C = 1


class BerError(ValueError):
    """Bytes that are not a well-formed SNMP message; the message says where."""


class VarBind(NamedTuple):
    oid: bytes  # BER content octets of the OID
    tag: int
    raw: bytes  # content octets of the value


class Message(NamedTuple):
    version: int
    community: bytes
    pdu: int
    request_id: int
    error_status: int  # non-repeaters for GETBULK
    error_index: int  # max-repetitions for GETBULK
    varbinds: list[VarBind]


# ------------------------------------------------------------------------ OIDs
@functools.lru_cache(maxsize=8192)  # a poller asks for the same OIDs every poll
def encode_oid(oid: tuple[int, ...] | str) -> bytes:
    """Content octets of an OID given as a tuple or dotted string."""
    arcs = tuple(int(a) for a in oid.strip(".").split(".")) if isinstance(oid, str) else oid
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise BerError(f"invalid OID {oid!r}")
    out = bytearray(_base128(arcs[0] * 40 + arcs[1]))
    for arc in arcs[2:]:
        out += _base128(arc)
    return bytes(out)


def _base128(value: int) -> bytes:
    if value < 0x80:
        return bytes((value,))
    chunks = [value & 0x7F]
    value >>= 7
    while value:
        chunks.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(chunks))


def _arcs(content: bytes) -> list[int]:
    """Base-128 arcs, as encoded (the first one still holds the first two arcs)."""
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    return arcs


def decode_oid(content: bytes) -> tuple[int, ...]:
    arcs = _arcs(content)
    if not arcs or content[-1] & 0x80:
        raise BerError("truncated OID")
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return head + tuple(arcs[1:])


def oid_suffix(content: bytes, prefix: bytes) -> tuple[int, ...]:
    """The arcs of `content` after `prefix` (which must be a prefix of it): the row index."""
    return tuple(_arcs(content[len(prefix) :]))


def oid_text(content: bytes) -> str:
    return ".".join(map(str, decode_oid(content)))


# ---------------------------------------------------------------------- encode
def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    if len(content) < 0x80:
        return bytes((tag, len(content))) + content
    return bytes((tag,)) + _length(len(content)) + content


def encode_integer(value: int) -> bytes:
    """Content octets of a two's-complement INTEGER."""
    return value.to_bytes(max(1, (value + (value < 0)).bit_length() // 8 + 1), "big", signed=True)


def encode_unsigned(value: int) -> bytes:
    """Content octets of Counter32/Gauge32/TimeTicks/Counter64 (unsigned, minimal)."""
    return value.to_bytes(value.bit_length() // 8 + 1, "big")


def encode_pdu(
    pdu: int, request_id: int, error_status: int, error_index: int, varbinds: list[VarBind]
) -> bytes:
    body = b"".join(map(_encode_varbind, varbinds))
    return tlv(
        pdu,
        tlv(INTEGER, encode_integer(request_id))
        + tlv(INTEGER, encode_integer(error_status))
        + tlv(INTEGER, encode_integer(error_index))
        + tlv(SEQUENCE, body),
    )


def _encode_varbind(varbind: VarBind) -> bytes:
    oid, tag, raw = varbind
    if len(oid) + len(raw) < 0x80 - 4:  # every length in short form: the headers in one go
        return (
            bytes((SEQUENCE, len(oid) + len(raw) + 4, OBJECT_ID, len(oid)))
            + oid
            + bytes((tag, len(raw)))
            + raw
        )
    return tlv(SEQUENCE, tlv(OBJECT_ID, oid) + tlv(tag, raw))


def encode_message(
    community: bytes,
    pdu: int,
    request_id: int,
    error_status: int,
    error_index: int,
    varbinds: list[VarBind],
    version: int = VERSION_2C,
) -> bytes:
    return tlv(
        SEQUENCE,
        tlv(INTEGER, encode_integer(version))
        + tlv(OCTET_STRING, community)
        + encode_pdu(pdu, request_id, error_status, error_index, varbinds),
    )


# ---------------------------------------------------------------------- decode
def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`."""
    if pos + 2 > end:
        raise BerError(f"truncated at byte {pos}")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise BerError(f"bad length at byte {pos - 1}")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise BerError(f"length {length} at byte {pos} runs past the end")
    return tag, pos, pos + length


def _integer(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    tag, start, stop = _header(data, pos, end)
    if tag != INTEGER or stop == start:
        raise BerError(f"{what}: expected INTEGER at byte {pos}")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def decode_message(data: bytes) -> Message:
    """Decode an SNMPv1/v2c message; raises BerError on anything malformed."""
    tag, pos, end = _header(data, 0, len(data))
    if tag != SEQUENCE:
        raise BerError("not an SNMP message (no outer SEQUENCE)")
    version, pos = _integer(data, pos, end, "version")
    tag, start, pos = _header(data, pos, end)
    if tag != OCTET_STRING:
        raise BerError("expected the community string")
    return Message(version, data[start:pos], *decode_pdu(data, pos, end))


def decode_pdu(data: bytes, pos: int, end: int) -> tuple[int, int, int, int, list[VarBind]]:
    """(pdu type, request-id, error-status, error-index, varbinds) of the PDU at `pos`."""
    pdu, pos, end = _header(data, pos, end)
    if pdu & 0xE0 != 0xA0:
        raise BerError(f"unknown PDU type 0x{pdu:02x}")
    request_id, pos = _integer(data, pos, end, "request-id")
    error_status, pos = _integer(data, pos, end, "error-status")
    error_index, pos = _integer(data, pos, end, "error-index")
    tag, pos, end = _header(data, pos, end)
    if tag != SEQUENCE:
        raise BerError("expected the varbind list")
    return pdu, request_id, error_status, error_index, _varbinds(data, pos, end)


def _varbinds(data: bytes, pos: int, end: int) -> list[VarBind]:
    """The varbinds from `pos` to `end`. Most varbinds of a table walk are under 128 bytes
    with short-form lengths throughout; those are read here in one step, with the same bounds
    checks as `_varbind` (which reads any other, and raises on the malformed)."""
    varbinds: list[VarBind] = []
    append, new = varbinds.append, tuple.__new__  # VarBind's own __new__ costs a call more
    while pos < end:
        # 0x30 L 0x06 l <OID: l bytes> tag m <value: m bytes>, each length < 0x80
        stop = pos + 2 + data[pos + 1] if pos + 4 < end else end + 1
        oid_stop = pos + 4 + data[pos + 3] if stop <= end else stop
        if (
            oid_stop + 2 <= stop
            and data[pos] == SEQUENCE
            and data[pos + 2] == OBJECT_ID
            and data[pos + 1] | data[pos + 3] | data[oid_stop + 1] < 0x80
            and oid_stop + 2 + data[oid_stop + 1] <= stop
        ):
            value_start = oid_stop + 2
            raw = data[value_start : value_start + data[oid_stop + 1]]
            append(new(VarBind, (data[pos + 4 : oid_stop], data[oid_stop], raw)))
            pos = stop
        else:
            varbind, pos = _varbind(data, pos, end)
            append(varbind)
    return varbinds


def _varbind(data: bytes, pos: int, end: int) -> tuple[VarBind, int]:
    """The varbind at `pos` and where the next one starts."""
    tag, inner, pos = _header(data, pos, end)
    if tag != SEQUENCE:
        raise BerError(f"expected a varbind at byte {inner}")
    tag, start, stop = _header(data, inner, pos)
    if tag != OBJECT_ID:
        raise BerError(f"expected an OID at byte {start}")
    value_tag, value_start, value_stop = _header(data, stop, pos)
    return VarBind(data[start:stop], value_tag, data[value_start:value_stop]), pos


def read_tlv(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """(content start, content end) of a TLV that must have `tag`."""
    found, start, stop = _header(data, pos, end)
    if found != tag:
        raise BerError(f"{what}: expected tag 0x{tag:02x} at byte {pos}, found 0x{found:02x}")
    return start, stop


def read_integer(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    """(value, next position) of an INTEGER."""
    return _integer(data, pos, end, what)


def value_of(varbind: VarBind) -> int | bytes | tuple[int, ...] | None:
    """The Python value of a varbind: int for numbers, bytes for strings, None for NULL and
    the exceptions (check `varbind.tag in EXCEPTIONS` to tell them apart)."""
    tag, raw = varbind.tag, varbind.raw
    if tag in UNSIGNED:
        return int.from_bytes(raw, "big")
    if tag == INTEGER:
        return int.from_bytes(raw, "big", signed=True)
    if tag in (OCTET_STRING, IP_ADDRESS, OPAQUE):
        return raw
    if tag == OBJECT_ID:
        return decode_oid(raw)
    if tag == NULL or tag in EXCEPTIONS:
        return None
    raise BerError(f"unknown value type 0x{tag:02x}")
