"""IFP packets: the PER coding of T.38 Annex A in both versions, and what is not an IFP packet.
(Against SpanDSP itself: test_spandsp.py; against Wireshark: test_tshark.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from estudio190f.hw.hdlc import reverse_bits
from estudio190f.hw.t38_ifp import (
    DATA_TYPES,
    FIELD_TYPES,
    INDICATOR_TYPES,
    IfpError,
    T38Data,
    T38Field,
    T38Indicator,
    decode_ifp,
    describe_ifp,
    encode_ifp,
)

ROOT_FIELDS = [f.name for f in FIELD_TYPES if f.code < 8]


@pytest.mark.parametrize("version", [0, 1, 2, 3])
def test_every_indicator_round_trips(version):
    for kind in INDICATOR_TYPES:
        if kind.code >= 16 and version == 0:
            with pytest.raises(IfpError, match="version 1"):
                encode_ifp(T38Indicator(kind.name), version)
            continue
        packet = T38Indicator(kind.name)
        data = encode_ifp(packet, version)
        assert len(data) == (1 if kind.code < 16 else 2)
        assert decode_ifp(data, version) == packet


def test_root_indicators_are_one_octet_the_code_shifted_left():
    # X.691: no data-field bit, the CHOICE bit, the extension bit, 4 bits of the enumeration.
    assert [encode_ifp(T38Indicator(k.name)) for k in INDICATOR_TYPES[:16]] == [
        bytes((k.code << 1,)) for k in INDICATOR_TYPES[:16]
    ]
    # an extension indicator: extension bit, "normally small" flag 0, 6 bits
    assert encode_ifp(T38Indicator("v8-ansam"), 1) == b"\x20\x00"
    assert encode_ifp(T38Indicator("v33-14400-training"), 1) == (0x2000 | 6 << 6).to_bytes(2, "big")


@pytest.mark.parametrize("version", [0, 1])
def test_every_data_type_and_field_round_trips(version):
    for dtype in DATA_TYPES[:9]:
        for name in ROOT_FIELDS:
            for data in (b"", b"\x01", bytes(range(200))):
                packet = T38Data(dtype.name, (T38Field(name, data),))
                assert decode_ifp(encode_ifp(packet, version), version) == packet


def test_a_data_packet_with_one_field():
    packet = T38Data("v17-14400", (T38Field("t4-non-ecm-data", b"\xaa\xbb"),))
    # field data: present bit + 3-bit type (6) -> 0xE0, aligned 16-bit length-1, octets
    assert encode_ifp(packet, 0) == bytes.fromhex("d0 01 e0 0001 aabb")
    # 2002: present, extension bit, 3-bit type -> 0xB0
    assert encode_ifp(packet, 1) == bytes.fromhex("d0 01 b0 0001 aabb")


def test_version_0_packs_two_fields_without_data_into_one_octet():
    packet = T38Data("v21", (T38Field("hdlc-fcs-OK"), T38Field("hdlc-sig-end")))
    assert encode_ifp(packet, 0) == bytes.fromhex("c0 02 21")
    assert encode_ifp(packet, 1) == bytes.fromhex("c0 02 1040")  # 5-bit headers
    assert decode_ifp(bytes.fromhex("c0 02 21"), 0) == packet
    assert decode_ifp(bytes.fromhex("c0 02 1040"), 1) == packet


def test_a_field_after_a_field_without_data_starts_mid_octet():
    packet = T38Data("v21", (T38Field("hdlc-fcs-OK"), T38Field("hdlc-data", b"\xff")))
    # 0010 then 1000, aligned: length 0000, octet ff
    assert encode_ifp(packet, 0) == bytes.fromhex("c0 02 28 0000 ff")
    assert decode_ifp(encode_ifp(packet, 0), 0) == packet


def test_the_2002_field_types_need_version_1():
    packet = T38Data("v34-pri-ch", (T38Field("cm-message", b"1"),))
    with pytest.raises(IfpError):
        encode_ifp(packet, 0)
    assert decode_ifp(encode_ifp(packet, 2), 2) == packet


@pytest.mark.parametrize(
    "data,reason",
    [
        (b"", "empty"),
        (b"\x80", "indicator with a data field"),
        (b"\x02\x00", "left over"),
        (bytes.fromhex("c0 01 80 0005 aa"), "runs past the end"),
        (bytes.fromhex("c0 01 8f 0000 aa"), "padding"),
        (bytes.fromhex("c0 00"), "no fields"),
        (b"\x40\xff", "left over"),
        (b"\x3f\xff", "extension of 64"),
        (bytes((0x40 | 15 << 1,)), "unknown data type"),
    ],
)
def test_what_is_not_an_ifp_packet(data, reason):
    with pytest.raises(IfpError, match=reason):
        decode_ifp(data, 0)


@given(st.binary(max_size=40), st.sampled_from([0, 1]))
def test_any_octets_decode_to_a_packet_or_an_ifp_error(data, version):
    try:
        packet = decode_ifp(data, version)
    except IfpError:
        return
    if version == 0 and _extension(packet):
        # read in any version, as SpanDSP does, but only sent from version 1 on
        with pytest.raises(IfpError):
            encode_ifp(packet, 0)
        return
    assert decode_ifp(encode_ifp(packet, version), version) == packet


def _extension(packet: T38Indicator | T38Data) -> bool:
    if isinstance(packet, T38Indicator):
        return packet.type.code >= 16
    return DATA_TYPES[[d.name for d in DATA_TYPES].index(packet.data_type)].code >= 9


def test_names_and_descriptions_read_as_wireshark_shows_them():
    assert (
        describe_ifp(T38Indicator("v17-14400-long-training")) == "t30ind: v17-14400-long-training"
    )
    packet = T38Data("v21", (T38Field("hdlc-data", b"\xff\xc0"), T38Field("hdlc-fcs-OK")))
    assert describe_ifp(packet) == "v21: hdlc-data (2), hdlc-fcs-OK"
    with pytest.raises(IfpError):
        T38Indicator("v90")


def test_hdlc_octets_go_with_the_first_bit_most_significant():
    # DIS is 0x80 in line order (first bit least significant), 0x01 as T.30 and T.38 write it.
    assert reverse_bits(b"\xff\x13\x80") == b"\xff\xc8\x01"
    assert reverse_bits(reverse_bits(bytes(range(256)))) == bytes(range(256))


def test_image_packets_are_told_from_control_packets():
    data = T38Field("t4-non-ecm-data", b"\x00")
    assert T38Data("v17-14400", (data,)).is_image
    assert not T38Data("v17-14400", (data, T38Field("t4-non-ecm-sig-end"))).is_image
    assert not T38Data("v21", (T38Field("hdlc-data", b"\xff"),)).is_image


@pytest.mark.parametrize("data", [b"\x01", bytes(range(256)) * 3], ids=["1 octet", "768 octets"])
def test_the_octet_path_for_bulk_packets_writes_what_the_bit_writer_writes(data):
    from estudio190f.hw.t38_ifp import DATA, _BitWriter, _encode_bulk, _encode_data_bits

    checked = 0
    for dtype in DATA_TYPES:
        for first in FIELD_TYPES:
            for last in (None, *FIELD_TYPES):
                fields = (T38Field(first.name, data),) + ((T38Field(last.name),) if last else ())
                fast = _encode_bulk(DATA[dtype.name].code, fields)
                if fast is None:
                    continue
                assert fast == _encode_data_bits(_BitWriter(), DATA[dtype.name].code, fields, 0)
                checked += 1
    assert checked == 9 * 8 * 9  # the 1998 root: 9 data types, 8 field types; none or one after
