"""The FCF table, identifiers and DIS/DCS bits agree with T.30 as the TSB85 scripts write it."""

from __future__ import annotations

import pytest

from estudio190f.firmware.t30.capabilities import (
    FALLBACK,
    Capabilities,
    DcsParams,
    ctc_fif,
    ctc_modulation,
    decode_bits,
    encode_bits,
)
from estudio190f.firmware.t30.frames import (
    FRAME_TYPES,
    decode_ident,
    encode_ident,
    make_frame,
    parse_frame,
    parse_ppr,
    parse_pps,
    ppr_map,
    pps_fif,
    reverse_bits,
)
from estudio190f.firmware.t30.trace import describe


def tsb85(text: str) -> bytes:
    """A TSB85 frame value (first bit on the left) in line order."""
    return reverse_bits(bytes.fromhex(text))


@pytest.mark.parametrize(
    "value,name,x",
    [
        ("FF C8 01", "DIS", 0), ("FF C8 41", "DCS", 0), ("FF C8 C1", "DCS", 1), ("FF C8 21", "CFR", 0),
        ("FF C8 31", "MCF", 0), ("FF C8 72", "MPS", 0), ("FF C8 F2", "MPS", 1), ("FF C8 74", "EOP", 0),
        ("FF C8 71", "EOM", 0), ("FF C8 5F", "DCN", 0), ("FF C8 DF", "DCN", 1), ("FF C8 58", "CRP", 0),
        ("FF C8 37", "RNR", 0), ("FF C8 76", "RR", 0), ("FF C8 3D", "PPR", 0), ("FF C8 7D", "PPS", 0),
        ("FF C8 48", "CTC", 0), ("FF C0 02", "CSI", 0), ("FF C0 04", "NSF", 0), ("FF C0 C2", "TSI", 1),
        ("FF C8 81", "DTC", 0), ("FF C8 22", "FTT", 0),
    ],
)  # fmt: skip
def test_fcf_values_match_the_tsb85_scripts(value: str, name: str, x: int) -> None:
    frame = parse_frame(tsb85(value))
    assert frame.name == name and frame.x == x
    assert make_frame(name, final=frame.final, x=x) == tsb85(value)


def test_every_frame_type_has_its_own_code() -> None:
    codes = [(t.fcf, t.x_bit) for t in FRAME_TYPES]
    assert len(set(codes)) == len(codes)
    for kind in FRAME_TYPES:
        assert parse_frame(make_frame(kind.name, x=1)).name == kind.name


def test_identifier_goes_last_character_first_as_in_tsb85() -> None:
    csi = tsb85("FF C0 02 9C 1C EC 6C AC 2C CC 4C 8C 0C D4 04 04 04 04 04 04 04 04 04")
    assert csi[3:] == encode_ident("+0123456789")
    assert decode_ident(csi[3:]) == "+0123456789"


def test_tsb85_dcs_decodes_to_v27ter_4800_standard_mh() -> None:
    params = DcsParams.decode(tsb85("00 50 00"))
    assert params == DcsParams("V.27ter/4800", "standard", "mh", 1728, "a4", 20, False)
    assert params.encode() == tsb85("00 50 00")


def test_tsb85_dis_offers_v27ter_only() -> None:
    caps = Capabilities.decode(tsb85("00 50 00"))
    assert caps.receive and caps.modulations == ("V.27ter/4800", "V.27ter/2400")
    assert (caps.fine, caps.mr, caps.ecm, caps.min_scan_ms) == (False, False, False, 20)


@pytest.mark.parametrize("modulation", FALLBACK)
@pytest.mark.parametrize("resolution", ("standard", "fine", "superfine"))
def test_dcs_round_trip(modulation: str, resolution: str) -> None:
    for params in (
        DcsParams(modulation, resolution, "mmr", 1728, "unlimited", 0, True, 256),
        DcsParams(modulation, resolution, "mr", 2048, "b4", 10, False),
        DcsParams(modulation, resolution, "mh", 2432, "a4", 40, True, 64),
    ):
        assert DcsParams.decode(params.encode()) == params


def test_dis_round_trip_and_extend_bits() -> None:
    caps = Capabilities(
        ready_to_transmit=True, superfine=True, mr=True, mmr=True, ecm=True, widths=(1728, 2048),
        length="unlimited", min_scan_ms=10, min_scan_half_fine=True, subaddress=True, password=True,
    )  # fmt: skip
    fif = caps.encode()
    assert Capabilities.decode(fif) == caps
    assert len(fif) == 7  # bits 49/50 need the seventh octet
    assert all(octet & 0x80 for octet in fif[2:-1]) and not fif[-1] & 0x80
    # without ECM nor superfine, three octets suffice
    assert len(Capabilities(ecm=False).encode()) == 3


def test_bits_past_an_octet_without_extend_are_ignored() -> None:
    assert decode_bits(bytes([0, 0x02, 0x00, 0x04])) == {10}
    assert decode_bits(encode_bits({10, 27, 31})) == {10, 27, 31}


def test_pps_ppr_and_ctc_fields() -> None:
    assert parse_pps(pps_fif("MPS", 3, 1, 17, x=1)) == ("MPS", 3, 1, 17)
    assert parse_pps(tsb85("72 00 80 08")) == ("MPS", 0, 1, 17)
    assert parse_pps(pps_fif(None, 0, 0, 256, x=0)) == (None, 0, 0, 256)
    fif = ppr_map({0, 5, 9}, 12)
    assert parse_ppr(fif, 12) == [0, 5, 9]
    assert parse_ppr(fif, 256)[3:] == list(range(12, 256))  # never-sent frames are marked too
    assert tsb85("3D 80 00")[1:2] == ppr_map({0}, 256)[:1]
    assert ctc_modulation(ctc_fif("V.27ter/4800")) == "V.27ter/4800"
    assert ctc_fif("V.27ter/4800") == tsb85("00 10")


def test_trace_spells_out_frames() -> None:
    dis = make_frame("DIS", Capabilities(mr=True, ecm=True, mmr=True).encode())
    name, detail = describe(dis)
    assert name == "DIS" and "V.17/14400" in detail and "MMR" in detail and "ECM" in detail
    assert describe(make_frame("CSI", encode_ident("5559876"), final=False)) == ("CSI", '"5559876"')
    name, detail = describe(make_frame("SID", encode_ident("2468"), x=1))
    assert name == "SID" and "2468" not in detail
    assert (
        describe(make_frame("PPR", ppr_map({1, 2, 3, 7}, 8)))[1]
        == "asks again for frames 1-3, 7-255"
    )
    assert describe(b"\x12\x34")[0] == "?"
