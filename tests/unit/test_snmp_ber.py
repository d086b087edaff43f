"""The lean SNMPv2c codec agrees byte for byte with pysnmp/pyasn1, and rejects garbage cleanly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.proto.api import v2c

from collectors.snmp import ber

OIDS = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=14).map(lambda rest: (1, 3, *rest))
VALUES = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (ber.INTEGER, v, v2c.Integer(v))),
    st.binary(max_size=300).map(lambda v: (ber.OCTET_STRING, v, v2c.OctetString(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (ber.COUNTER32, v, v2c.Counter32(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (ber.GAUGE32, v, v2c.Gauge32(v))),
    st.integers(0, 2**32 - 1).map(lambda v: (ber.TIMETICKS, v, v2c.TimeTicks(v))),
    st.integers(0, 2**64 - 1).map(lambda v: (ber.COUNTER64, v, v2c.Counter64(v))),
    st.just((ber.NULL, None, v2c.Null(""))),
    st.just((ber.NO_SUCH_OBJECT, None, rfc1905.noSuchObject)),
    st.just((ber.NO_SUCH_INSTANCE, None, rfc1905.noSuchInstance)),
    st.just((ber.END_OF_MIB_VIEW, None, rfc1905.endOfMibView)),
    OIDS.map(lambda v: (ber.OBJECT_ID, v, v2c.ObjectIdentifier(v))),
    st.binary(min_size=4, max_size=4).map(lambda v: (ber.IP_ADDRESS, v, rfc1902.IpAddress(v))),
)


def pysnmp_response(
    request_id: int, community: bytes, varbinds: list[tuple[tuple[int, ...], object]]
) -> bytes:
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_varbinds(pdu, varbinds)
    message = v2c.Message()
    v2c.apiMessage.set_defaults(message)
    v2c.apiMessage.set_community(message, community)
    v2c.apiMessage.set_pdu(message, pdu)
    return bytes(encoder.encode(message))


@given(
    st.integers(0, 2**31 - 1),
    st.binary(max_size=40),
    st.lists(st.tuples(OIDS, VALUES), max_size=30),
)
def test_decoding_pysnmp_encoded_responses(request_id: int, community: bytes, rows: list) -> None:  # type: ignore[type-arg]
    wire = pysnmp_response(request_id, community, [(oid, value[2]) for oid, value in rows])
    message = ber.decode_message(wire)
    assert (message.version, message.community, message.pdu) == (1, community, ber.RESPONSE)
    assert message.request_id == request_id
    assert [ber.decode_oid(vb.oid) for vb in message.varbinds] == [oid for oid, _ in rows]
    assert [(vb.tag, ber.value_of(vb)) for vb in message.varbinds] == [
        (v[0], v[1]) for _, v in rows
    ]
    # and our encoder reproduces the very same bytes
    assert ber.encode_message(community, ber.RESPONSE, request_id, 0, 0, message.varbinds) == wire


@given(
    st.integers(0, 2**31 - 1), st.integers(0, 10), st.integers(0, 100), st.lists(OIDS, max_size=10)
)
def test_getbulk_requests_decode_in_pysnmp(
    request_id: int, non_rep: int, max_rep: int, oids: list
) -> None:  # type: ignore[type-arg]
    varbinds = [ber.VarBind(ber.encode_oid(o), ber.NULL, b"") for o in oids]
    wire = ber.encode_message(b"public", ber.GET_BULK, request_id, non_rep, max_rep, varbinds)
    message, rest = decoder.decode(wire, asn1Spec=v2c.Message())
    assert rest == b""
    pdu = v2c.apiMessage.get_pdu(message)
    assert isinstance(pdu, v2c.GetBulkRequestPDU)
    assert int(v2c.apiBulkPDU.get_request_id(pdu)) == request_id
    assert int(v2c.apiBulkPDU.get_non_repeaters(pdu)) == non_rep
    assert int(v2c.apiBulkPDU.get_max_repetitions(pdu)) == max_rep
    assert [tuple(o) for o, _ in v2c.apiBulkPDU.get_varbinds(pdu)] == [tuple(o) for o in oids]


@pytest.mark.parametrize(
    "oid", ["1.3.6.1.2.1.31.1.1.1.6.49", "1.3.6.1.4.1.2636.3.1.13.1.7.9.1.0.0", "2.999.3", "0.39.5"]
)
def test_oid_round_trip_and_suffix(oid: str) -> None:
    encoded = ber.encode_oid(oid)
    assert ber.oid_text(encoded) == oid
    prefix = ber.encode_oid(oid.rsplit(".", 1)[0])
    assert encoded.startswith(prefix)
    assert ber.oid_suffix(encoded, prefix) == (int(oid.rsplit(".", 1)[1]),)


@pytest.mark.parametrize(
    ("wire", "message"),
    [
        (b"", "truncated"),
        (b"\x04\x03abc", "no outer SEQUENCE"),
        (b"\x30\x05\x02\x01\x01\x04", "runs past the end"),
        (b"\x30\x04\x02\x01\x01\x04", "truncated"),
        (b"\x30\x84\xff\xff\xff\xff", "runs past the end"),
        (b"\x30\x03\x04\x01\x01", "expected INTEGER"),
        (b"\x30\x0a\x02\x01\x01\x04\x00\x30\x03\x02\x01\x00", "unknown PDU type 0x30"),
    ],
)
def test_malformed_messages_raise_ber_error(wire: bytes, message: str) -> None:
    with pytest.raises(ber.BerError, match=message):
        ber.decode_message(wire)


@given(st.binary(max_size=200))
def test_garbage_never_raises_anything_but_ber_error(data: bytes) -> None:
    try:
        message = ber.decode_message(data)
    except ber.BerError:
        return
    for varbind in message.varbinds:
        with contextlib.suppress(ber.BerError):
            ber.value_of(varbind)


def _read_one_by_one(data: bytes) -> list[ber.VarBind] | str:
    varbinds, pos = [], 0
    try:
        while pos < len(data):
            varbind, pos = ber._varbind(data, pos, len(data))
            varbinds.append(varbind)
    except ber.BerError as error:
        return str(error)
    return varbinds


@settings(max_examples=500)
@given(
    st.lists(st.tuples(OIDS, VALUES), max_size=6),
    st.lists(st.tuples(st.integers(0, 10**4), st.integers(-2, 2)), max_size=3),
    st.integers(0, 10**4),
)
def test_the_one_step_varbind_reader_agrees_with_the_general_one(
    rows: list,  # type: ignore[type-arg]
    nudges: list[tuple[int, int]],
    cut: int,
) -> None:
    """Short-form varbinds are read in one step; on any bytes (here: encoded varbinds with a
    few bytes, such as lengths, one or two off, and the end cut off) that must give what
    reading each varbind with the general reader gives, or the same error."""
    wire = bytearray(b"".join(ber._encode_varbind(_varbind(oid, value)) for oid, value in rows))
    for position, delta in nudges:
        if wire:
            wire[position % len(wire)] = (wire[position % len(wire)] + delta) % 256
    data = bytes(wire[: len(wire) - cut % (len(wire) + 1)] if cut % 3 == 0 else wire)
    try:
        fast: list[ber.VarBind] | str = ber._varbinds(data, 0, len(data))
    except ber.BerError as error:
        fast = str(error)
    assert fast == _read_one_by_one(data)


def _varbind(oid: tuple[int, ...], value: tuple[int, object, object]) -> ber.VarBind:
    tag, python_value = value[0], value[1]
    if tag == ber.INTEGER:
        raw = ber.encode_integer(python_value)  # type: ignore[arg-type]
    elif tag in ber.UNSIGNED:
        raw = ber.encode_unsigned(python_value)  # type: ignore[arg-type]
    elif tag == ber.OBJECT_ID:
        raw = ber.encode_oid(python_value)  # type: ignore[arg-type]
    else:
        raw = python_value if isinstance(python_value, bytes) else b""
    return ber.VarBind(ber.encode_oid(oid), tag, raw)
