"""The phone network and the modem as hardware: dialing, ringing, answer, signals in air time,
what a receiver hears, impairments."""

from __future__ import annotations

import random

import numpy as np
import pytest

from estudio190f.hw.board import Board
from estudio190f.hw.clock import MS, SECOND, Clock
from estudio190f.hw.line import NOISE_BER, PhoneNetwork, flip_bits
from estudio190f.hw.modem import (
    MODULATIONS,
    CarrierDown,
    CarrierUp,
    DataReceived,
    FrameReceived,
    Modem,
    OtherCarrier,
    ToneOn,
    TransmitDone,
    hdlc_bits,
    hdlc_bits_each,
    modulation_for_t31,
)


class Station:
    def __init__(self, network: PhoneNetwork, number: str) -> None:
        self.clock = network.clock
        self.line = network.add_line(number, random.Random(number))
        self.modem = Modem(self.clock)
        self.line.attach_modem(self.modem)
        self.events: list[tuple[int, object]] = []
        self.line_events: list[tuple[int, str, int]] = []
        self.modem.listeners.add(lambda e: self.events.append((self.clock.now, e)))
        self.line.listeners.add(lambda e: self.line_events.append((self.clock.now, e.kind, e.n)))

    def heard(self, kind: type) -> list[tuple[int, object]]:
        return [(t, e) for t, e in self.events if isinstance(e, kind)]


def connected_pair() -> tuple[Clock, Station, Station]:
    clock = Clock()
    network = PhoneNetwork(clock)
    a, b = Station(network, "100"), Station(network, "200")
    b.line.listeners.add(lambda e: b.line.go_off_hook() if e.kind == "ring" else None)
    a.line.dial("200")
    clock.advance(10 * SECOND)
    assert a.line.connected and b.line.connected
    return clock, a, b


def test_dialing_takes_dial_tone_digits_and_pauses_then_rings_with_the_cadence() -> None:
    clock = Clock()
    network = PhoneNetwork(clock)
    a, b = Station(network, "100"), Station(network, "5559876")
    end = a.line.dial("555,9876")
    assert end == 1 * SECOND + 7 * 200 * MS + 3 * SECOND
    clock.advance(30 * SECOND)
    rings = [t for t, kind, _ in b.line_events if kind == "ring"]
    assert rings[0] == end + 1 * SECOND
    assert [r - rings[0] for r in rings[:4]] == [0, 6 * SECOND, 12 * SECOND, 18 * SECOND]
    offs = [t for t, kind, _ in b.line_events if kind == "ring_off"]
    assert offs[0] - rings[0] == 2 * SECOND
    assert [n for _, kind, n in a.line_events if kind == "ringback"][:3] == [1, 2, 3]


def test_answering_connects_both_ends_and_hanging_up_tells_the_other() -> None:
    clock, a, b = connected_pair()
    assert ("answered" in [k for _, k, _ in a.line_events]) and (
        "connected" in [k for _, k, _ in b.line_events]
    )
    a.line.hang_up()
    assert b.line_events[-1][1] == "remote_hangup" and not b.line.connected


def test_busy_when_the_called_line_is_in_use() -> None:
    clock, a, b = connected_pair()
    c = Station(a.line.network, "300")
    c.line.dial("200")
    clock.advance(10 * SECOND)
    assert c.line_events[-1][1] == "busy" and c.line.state == "busy"


def test_v21_frames_take_their_bits_at_300_bit_s_after_a_1_s_preamble() -> None:
    clock, a, b = connected_pair()
    b.modem.receive("V.21")
    frames = [b"\xff\x03\x40" + b" " * 20, b"\xff\x13\x80\x00\x6e\x78"]
    start = clock.now
    end = a.modem.send_hdlc(frames)
    clock.advance(5 * SECOND)
    ((t_up, _),) = b.heard(CarrierUp)
    got = b.heard(FrameReceived)
    assert t_up == start
    assert got[0][0] == start + SECOND + hdlc_bits(frames[0]) * SECOND // 300
    assert got[1][0] == end == got[0][0] + hdlc_bits(frames[1]) * SECOND // 300
    assert [e.frame for _, e in got] == frames and all(e.crc_ok for _, e in got)
    assert b.heard(CarrierDown)[0][0] == end
    assert hdlc_bits(b"\xff\xff") > hdlc_bits(b"\x00\x00")  # stuffing counted


def test_ecm_frames_at_high_speed_take_their_stuffed_zeros_too() -> None:
    """A busy MMR page is full of runs of 1s: each five of them costs a stuffed 0 on the line,
    at 14400 bit/s as at 300 (T.30's timers see the real time a block of frames takes)."""
    ones = [b"\xff" * 256] * 8
    zeros = [b"\x00" * 256] * 8
    ends = []
    for frames in (ones, zeros):
        clock, a, b = connected_pair()
        b.modem.receive("V.17/14400")
        start = clock.now
        ends.append(a.modem.send_hdlc(frames, modulation="V.17/14400") - start)
        clock.advance(10 * SECOND)
        assert [e.frame for _, e in b.heard(FrameReceived)] == frames
    stuffed = 8 * (256 * 8 // 5)  # per frame, a 0 after every five 1s of its 2048
    assert ends[0] - ends[1] == pytest.approx(stuffed * SECOND / 14400, abs=2)
    rng = random.Random(7)
    mixed = [bytes(rng.choice((0xFF, 0x1F, 0xF8, rng.randrange(256))) for _ in range(260))
             for _ in range(12)]  # fmt: skip
    assert hdlc_bits_each(mixed) == [hdlc_bits(frame) for frame in mixed]


@pytest.mark.parametrize("key", [k for k in MODULATIONS if k != "V.21"])
def test_training_and_data_take_the_modulation_time(key: str) -> None:
    clock, a, b = connected_pair()
    mod = MODULATIONS[key]
    b.modem.receive(key)
    start = clock.now
    data = bytes(range(256)) * (mod.rate // 256)  # about one second of data
    end = a.modem.send_data(data, key)
    clock.advance(10 * SECOND)
    ((t_up, _),) = b.heard(CarrierUp)
    assert t_up - start == mod.long_train
    assert end - t_up == len(data) * 8 * SECOND // mod.rate
    assert b"".join(e.data for _, e in b.heard(DataReceived)) == data
    assert b.heard(CarrierDown)[0][0] == end


def test_a_receiver_listening_for_another_modem_hears_only_that_a_carrier_came() -> None:
    clock, a, b = connected_pair()
    b.modem.receive("V.29/9600")
    a.modem.send_data(bytes(2000), "V.17/14400")
    clock.advance(5 * SECOND)
    assert [e.modulation for _, e in b.heard(OtherCarrier)] == ["V.17/14400"]
    assert b.heard(DataReceived) == [] and b.heard(CarrierUp) == []


def test_a_receiver_that_starts_listening_after_the_training_misses_the_carrier() -> None:
    clock, a, b = connected_pair()
    a.modem.send_data(bytes(3000), "V.17/14400")
    clock.advance(100 * MS)
    b.modem.receive("V.17/14400")
    clock.advance(5 * SECOND)
    assert b.heard(DataReceived) == []


def test_a_modem_does_not_hear_while_its_own_carrier_is_on() -> None:
    clock, a, b = connected_pair()
    a.modem.receive("V.21")
    b.modem.receive("V.21")
    a.modem.send_hdlc([b"\xff\x13\xfa"])
    b.modem.send_hdlc([b"\xff\x13\xfa"])
    clock.advance(3 * SECOND)
    assert a.heard(FrameReceived) == [] and b.heard(FrameReceived) == []


def test_tones_cng_cadence_and_ced() -> None:
    clock, a, b = connected_pair()
    start = clock.now
    a.modem.start_cng()
    clock.advance(8 * SECOND)
    a.modem.stop_cng()
    cng = [t - start for t, e in b.heard(ToneOn) if e.tone == "cng"]
    assert cng == [0, 3500 * MS, 7000 * MS]
    b.modem.send_tone("ced")
    clock.advance(4 * SECOND)
    assert [e.tone for _, e in a.heard(ToneOn)] == ["ced"]


def test_transmit_done_comes_when_everything_queued_has_gone() -> None:
    clock, a, b = connected_pair()
    a.modem.send_silence(75 * MS, tag="gap")
    end = a.modem.send_data(bytes(100), "V.27ter/2400", tag="tcf")
    clock.advance(5 * SECOND)
    done = a.heard(TransmitDone)
    assert [(t, e.tag) for t, e in done][-1] == (end, "tcf")


def test_a_bad_fcs_reaches_the_receiver_as_such() -> None:
    clock, a, b = connected_pair()
    b.modem.receive("V.21")
    a.modem.send_hdlc([b"\xff\x03\x40", b"\xff\x13\x80"], bad_fcs=[0])
    clock.advance(3 * SECOND)
    assert [e.crc_ok for _, e in b.heard(FrameReceived)] == [False, True]


def test_noise_flips_bits_at_the_rate_asked_and_is_seeded() -> None:
    rng = np.random.default_rng(1)
    data = bytes(100_000)
    flipped = flip_bits(data, 1e-3, rng)
    errors = int(np.unpackbits(np.frombuffer(flipped, np.uint8)).sum())
    assert 600 < errors < 1000
    assert flip_bits(data, 1e-3, np.random.default_rng(1)) == flipped
    assert flip_bits(data, 0.0, rng) == data


def test_impairments_of_both_loops_apply_and_a_too_fast_carrier_is_garbled() -> None:
    clock, a, b = connected_pair()
    b.modem.receive("V.17/14400")
    a.line.impair(max_rate=9600)
    a.modem.send_data(bytes(18000), "V.17/14400")
    clock.advance(15 * SECOND)
    data = b"".join(e.data for _, e in b.heard(DataReceived))
    assert len(data) == 18000 and data.count(0) < 17000
    assert NOISE_BER["V.17/14400"] > NOISE_BER["V.17/9600"] > NOISE_BER["V.27ter/2400"]


def test_board_attach_registers_the_line_faults_and_power_cut_hangs_up() -> None:
    clock = Clock()
    network = PhoneNetwork(clock)
    board = Board(clock, "x")
    board.power_on()
    line = network.attach(board, "123")
    assert board.line is line and board.modem is line.modem
    for name in ("line.busy", "line.no_answer", "line.drop", "line.noise"):
        assert board.faults.available(name)
    board.faults.set("line.noise")
    assert line.noise
    board.faults.clear("line.noise")
    assert not line.noise
    line.dial("456")
    board.power_off()
    assert line.state == "idle"


def test_t31_codes_name_the_modulations() -> None:
    assert modulation_for_t31(146) == (MODULATIONS["V.17/14400"], True)
    assert modulation_for_t31(145) == (MODULATIONS["V.17/14400"], False)
    assert modulation_for_t31(96)[0].key == "V.29/9600"
    assert modulation_for_t31(3)[0].key == "V.21"
    with pytest.raises(KeyError):
        modulation_for_t31(200)


def test_remote_quiet_when_the_far_end_stops_sending() -> None:
    from estudio190f.hw.modem import RemoteQuiet

    clock, a, b = connected_pair()
    end = a.modem.send_hdlc([b"\xff\x13\xfa"])
    clock.advance(3 * SECOND)
    assert [t for t, _ in b.heard(RemoteQuiet)] == [end]


def test_class1_style_streaming_frames_and_data_as_the_host_supplies_them() -> None:
    clock, a, b = connected_pair()
    b.modem.receive("V.21", "V.17/14400")
    start = clock.now
    a.modem.send_hdlc([], final=False)  # +FTH=3: flags start before the host's frame is there
    clock.advance(300 * MS)
    a.modem.send_hdlc([b"\xff\x03\x43" + b" " * 20], final=False)
    clock.advance(2 * SECOND)
    a.modem.send_hdlc([b"\xff\x13\x83\x00\x62"])  # the final frame drops the carrier
    frames = b.heard(FrameReceived)
    assert frames[0][0] == start + SECOND + hdlc_bits(b"\xff\x03\x43" + b" " * 20) * SECOND // 300
    a.modem.send_data(b"", "V.17/14400", short_train=True, end=False)  # +FTM=146
    for _ in range(3):
        clock.advance(400 * MS)
        a.modem.feed(bytes(720))  # 0.4 s of data each time
    a.modem.feed(b"", end=True)
    clock.advance(3 * SECOND)
    assert len(b.heard(FrameReceived)) == 2 and b.heard(FrameReceived)[1][1].frame[2] == 0x83
    assert len(b"".join(e.data for _, e in b.heard(DataReceived))) == 2160
    downs = [e.modulation for _, e in b.heard(CarrierDown)]
    assert downs == ["V.21", "V.17/14400"]
