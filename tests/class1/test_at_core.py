"""The Class 1 AT interpreter without a pty: command lines, results, DLE handling, the frame and
data paths both ways, call progress and the error paths, as a fax program reads them."""

from __future__ import annotations

import numpy as np
import pytest

from estudio190f.hw.class1 import AtCommand, AtSyntaxError, HdlcBitStream, parse_command_line
from estudio190f.hw.clock import MS, SECOND
from estudio190f.hw.hdlc import HdlcDecoder, HdlcFrame
from estudio190f.hw.modem import (
    CarrierUp,
    DataReceived,
    FrameReceived,
    ToneOn,
    modulation_for_t31,
)

from .bench import FAR_NUMBER, Bench, fcs_reference, stuffed

OK = b"\r\nOK\r\n"
CONNECT = b"\r\nCONNECT\r\n"
ERROR = b"\r\nERROR\r\n"
DLE_ETX = b"\x10\x03"

CSI = bytes((0xFF, 0x03, 0x40)) + b"4321555" + b" " * 13
DIS = bytes((0xFF, 0x13, 0x80, 0x00, 0x46, 0x1F, 0x10, 0x00))  # a 0x10 in the FIF on purpose


# -- command lines -----------------------------------------------------------------------------
def test_parser_splits_basic_extended_and_s_register_commands() -> None:
    assert parse_command_line("Q0V1E0") == [AtCommand("Q", "", "0"), AtCommand("V", "", "1"),
                                            AtCommand("E", "", "0")]  # fmt: skip
    assert parse_command_line("+fclass=1;+FTM=?") == [AtCommand("+FCLASS", "=", "1"),
                                                      AtCommand("+FTM", "=?")]  # fmt: skip
    assert parse_command_line("S7=60S0?") == [AtCommand("S7", "=", "60"), AtCommand("S0", "?")]
    assert parse_command_line("L0M1&K3") == [AtCommand("L", "", "0"), AtCommand("M", "", "1"),
                                             AtCommand("&K", "", "3")]  # fmt: skip
    assert parse_command_line("DT 555-0100") == [AtCommand("D", "", "T555-0100")]
    for bad in ("+", "S7", "&", "12", "+FTM?=3"):
        with pytest.raises(AtSyntaxError):
            parse_command_line(bad)


def test_commands_are_echoed_and_answered_ok() -> None:
    bench = Bench()
    assert bench.host("ATZ\r") == b"ATZ\r" + OK


def test_several_commands_on_one_line_lower_case_and_spaces() -> None:
    bench = Bench()
    assert bench.host("atq0 v1 e0\r") == b"atq0 v1 e0\r" + OK  # echoed before E0 took effect
    assert bench.host("at + fclass = 1\r") == OK
    assert bench.host("AT+FCLASS?\r") == b"\r\n1\r\n" + OK
    assert bench.host("AT+FCLASS=?\r") == b"\r\n0,1\r\n" + OK


def test_identification_and_capability_queries() -> None:
    bench = Bench()
    bench.setup_fax()
    assert bench.host("ATI3\r").startswith(b"\r\ne-STUDIO190F simulator")
    codes = b"24,48,72,73,74,96,97,98,121,122,145,146"
    assert bench.host("AT+FTM=?\r") == b"\r\n" + codes + b"\r\n" + OK
    assert bench.host("AT+FRM=?\r") == b"\r\n" + codes + b"\r\n" + OK
    assert bench.host("AT+FTH=?\r") == b"\r\n3\r\n" + OK
    assert bench.host("AT+FRH=?\r") == b"\r\n3\r\n" + OK
    assert bench.host("AT+FTS=?;+FRS=?\r") == b"\r\n0-255\r\n\r\n0-255\r\n" + OK
    assert bench.host("AT+FMI?\r") == b"\r\nestudio190f\r\n" + OK


def test_s_registers_are_set_and_read_as_three_digits() -> None:
    bench = Bench()
    bench.host("ATE0\r")
    assert bench.host("ATS0=0S8=2S7=60\r") == OK
    assert bench.host("ATS7?\r") == b"\r\n060\r\n" + OK
    assert bench.host("ATS7=256\r") == ERROR
    assert bench.host("ATS1=3\r") == ERROR  # the ring counter is read-only


def test_numeric_and_quiet_result_codes() -> None:
    bench = Bench()
    assert bench.host("ATE0V0\r").endswith(b"0\r")
    assert bench.host("ATX9\r") == b"4\r"
    assert bench.host("ATV1Q1\r") == b""
    assert bench.host("ATI3\r").startswith(b"\r\ne-STUDIO190F")  # information text still comes
    assert bench.host("ATQ0\r") == OK


def test_backspace_edits_and_a_slash_repeats_the_last_line() -> None:
    bench = Bench()
    bench.host("ATE0\r")
    assert bench.host("ATI3\x080\r") == b"\r\nESTUDIO190F CLASS1\r\n" + OK
    assert bench.host("A/") == b"\r\nESTUDIO190F CLASS1\r\n" + OK


def test_garbage_is_ignored_or_refused_and_the_modem_carries_on() -> None:
    bench = Bench()
    bench.host("ATE0\r")
    assert bench.host(b"\x00\xff\x10\x03garbage without the prefix\r") == b""
    assert bench.host("ATXYZ\r") == ERROR
    assert bench.host("AT+FOO=1\r") == ERROR
    assert bench.host("AT" + "I" * 400 + "\r") == ERROR  # overlong line
    assert bench.host("ATH\r\xff\xfe\r") == OK  # ... and the bytes after it are not a command
    rng = np.random.default_rng(7)
    bench.host(rng.integers(0, 256, 50_000, dtype=np.uint8).tobytes() + b"\r")
    bench.read()
    assert bench.host("ATE0\r") == OK


def test_fax_commands_need_class_1_and_a_call() -> None:
    bench = Bench()
    bench.host("ATE0\r")
    assert bench.host("AT+FTH=3\r") == ERROR  # +FCLASS=0
    assert bench.host("AT+FCLASS=1\r") == OK
    assert bench.host("AT+FTH=3\r") == ERROR  # on hook, no call
    assert bench.host("AT+FTM=99\r") == ERROR
    assert bench.host("AT+FRH=146\r") == ERROR  # high-speed HDLC: through +FRM instead
    assert bench.host("ATA\r") == b"\r\nNO CARRIER\r\n"  # nothing is ringing


# -- calling -------------------------------------------------------------------------------------
def test_dialing_a_busy_number_says_busy() -> None:
    bench = Bench()
    bench.far_line.set_fault("line.busy", True)
    bench.setup_fax()
    assert bench.host(f"ATD{FAR_NUMBER}\r", run=10) == b"\r\nBUSY\r\n"
    assert bench.line.state == "idle"


def test_dialing_on_a_dead_line_says_no_dialtone() -> None:
    bench = Bench()
    bench.line.set_fault("line.drop", True)
    bench.setup_fax()
    assert bench.host(f"ATDT{FAR_NUMBER}\r", run=5) == b"\r\nNO DIALTONE\r\n"


def test_a_call_nobody_answers_gives_no_answer_after_s7() -> None:
    bench = Bench(answer_rings=None)
    bench.setup_fax()
    bench.host("ATS7=20\r")
    bench.host(f"ATD{FAR_NUMBER}\r", run=20)
    assert bench.read() == b""  # still ringing at 20 s: dialing itself takes 1.8 s
    assert bench.host(b"", run=5) == b"\r\nNO ANSWER\r\n"


def test_a_character_from_the_host_abandons_dialing() -> None:
    bench = Bench(answer_rings=None)
    bench.setup_fax()
    bench.host(f"ATD{FAR_NUMBER}\r", run=6)
    assert bench.host("\r", run=1) == b"\r\nNO CARRIER\r\n"
    assert bench.line.state == "idle"


def test_dial_connects_on_the_answerers_flags_and_hands_over_its_frames_with_fcs() -> None:
    bench = Bench()
    bench.setup_fax()
    bench.host(f"ATD{FAR_NUMBER}\r")
    bench.clock.advance(30 * SECOND, stop=lambda: bench.far_line.connected)
    bench.run(3.5)
    assert [e.tone for _, e in bench.heard_of(ToneOn)] == ["cng"], "the caller sends CNG"
    bench.far.send_hdlc([CSI, DIS])  # 1 s of flags, then CSI and DIS on one carrier
    got = bench.run_until_output(OK)
    assert got == CONNECT + stuffed(CSI + fcs_reference(CSI)) + DLE_ETX + OK
    got = bench.host("AT+FRH=3\r") + bench.run_until_output(OK)
    assert got == CONNECT + stuffed(DIS + fcs_reference(DIS)) + DLE_ETX + OK


def test_a_frame_with_a_bad_fcs_comes_with_error() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.host("AT+FRH=3\r")
    bench.far.send_hdlc([DIS], bad_fcs=[0])
    got = bench.run_until_output(b"ERROR")
    assert got.startswith(CONNECT + stuffed(DIS))
    assert got.endswith(DLE_ETX + ERROR)
    assert not got.startswith(CONNECT + stuffed(DIS + fcs_reference(DIS)))


def test_host_frames_go_out_with_connect_between_them_and_ok_after_the_final_one() -> None:
    bench = Bench()
    bench.connect_calling()
    tsi = bytes((0xFF, 0x03, 0x43)) + b"0010555" + b" " * 13
    dcs = bytes((0xFF, 0x13, 0x83, 0x00, 0x46, 0x10, 0x10))  # DLEs in the FIF
    assert bench.host("AT+FTH=3\r") == CONNECT
    assert bench.host(stuffed(tsi) + DLE_ETX) == CONNECT  # not final: ready for the next
    assert bench.host(stuffed(dcs) + DLE_ETX) == b""  # final: OK once it is on the line
    start = bench.clock.now
    got = bench.run_until_output(OK)
    assert got == OK
    frames = [(t, e) for t, e in bench.heard_of(FrameReceived)]
    assert [e.frame for _, e in frames] == [tsi, dcs] and all(e.crc_ok for _, e in frames)
    assert frames[-1][0] == bench.clock.now, "OK comes as the last frame leaves the line"
    # 1 s of flags, then (23 + 7 octets + FCS and flags) at 300 bit/s
    assert 1.8 < (bench.clock.now - start) / SECOND < 2.1


def test_dle_sub_stands_for_two_dles_and_an_empty_frame_ends_the_carrier() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.host("AT+FTH=3\r")
    frame = bytes((0xFF, 0x03, 0x42)) + b"\x10\x10" + b"X"
    assert bench.host(b"\xff\x03\x42\x10\x1aX" + DLE_ETX) == CONNECT
    assert bench.host(DLE_ETX) == b""
    assert bench.run_until_output(OK) == OK
    assert [e.frame for _, e in bench.heard_of(FrameReceived)] == [frame]


def test_page_data_goes_out_unstuffed_at_the_line_rate() -> None:
    bench = Bench()
    bench.connect_calling()
    data = bytes(range(256)) * 40  # every byte value, DLE included, 10240 octets
    start = bench.clock.now
    assert bench.host("AT+FTM=146\r") == CONNECT
    assert bench.host(stuffed(data) + DLE_ETX) == b""
    assert bench.run_until_output(OK) == OK
    received = b"".join(e.data for _, e in bench.heard_of(DataReceived))
    assert received == data
    mod, short = modulation_for_t31(146)
    air = mod.training(short) + mod.air_time(len(data))
    assert bench.clock.now - start == air


def test_the_host_is_held_back_while_a_second_of_data_waits_for_the_line() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.host("AT+FTM=146\r")
    bench.host(bytes(1000))
    assert bench.c1.wants_input
    bench.host(bytes(8000))  # 5 s of air time at 14400
    assert not bench.c1.wants_input
    bench.run(4.5)
    assert bench.c1.wants_input
    assert bench.host(DLE_ETX, run=5) == OK


def test_received_data_reaches_the_host_stuffed_then_dle_etx_and_no_carrier() -> None:
    bench = Bench()
    bench.connect_calling()
    data = bytes(range(256)) * 20
    assert bench.host("AT+FRM=146\r") == b""
    bench.far.send_data(data, "V.17/14400", short_train=True)
    got = bench.run_until_output(b"NO CARRIER")
    tail = bytes(18)  # 10 ms at 14400 bit/s: the receiver noticing the carrier has gone
    assert got == CONNECT + stuffed(data) + tail + DLE_ETX + b"\r\nNO CARRIER\r\n"


def test_a_late_frm_still_gets_the_carrier_heard_before_it() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.far.send_data(bytes(2700), "V.17/14400")  # TCF
    bench.run(0.5)  # the host is slow to ask
    got = bench.host("AT+FRM=145\r") + bench.run_until_output(b"NO CARRIER")
    assert got == CONNECT + bytes(2700) + bytes(18) + DLE_ETX + b"\r\nNO CARRIER\r\n"


def test_frm_while_a_v21_carrier_is_up_gives_fcerror_and_the_frame_stays_for_frh() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.host("AT+FRM=146\r")
    bench.far.send_hdlc([DIS])
    assert bench.run_until_output(b"+FCERROR") == b"\r\n+FCERROR\r\n"
    got = bench.host("AT+FRH=3\r") + bench.run_until_output(OK)
    assert got == CONNECT + stuffed(DIS + fcs_reference(DIS)) + DLE_ETX + OK


def test_frh_while_a_page_carrier_is_up_gives_fcerror() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.far.send_data(bytes(5000), "V.17/14400")
    bench.run(2)
    assert bench.host("AT+FRH=3\r") == b"\r\n+FCERROR\r\n"


def test_a_character_from_the_host_aborts_a_receive_with_ok() -> None:
    bench = Bench()
    bench.connect_calling()
    assert bench.host("AT+FRH=3\r", run=2) == b""
    assert bench.host(b"\x18") == OK
    assert bench.host("AT\r") == OK


def test_the_far_end_hanging_up_during_a_receive_gives_no_carrier() -> None:
    bench = Bench()
    bench.connect_calling()
    bench.host("AT+FRH=3\r", run=1)
    bench.far_line.hang_up()
    assert bench.read() == b"\r\nNO CARRIER\r\n"
    assert bench.host("AT+FTH=3\r") == b"\r\nNO CARRIER\r\n"
    assert bench.host("ATH\r") == OK and bench.line.state == "idle"


def test_fts_keeps_silent_and_frs_waits_for_the_line_to_be_quiet() -> None:
    bench = Bench()
    bench.connect_calling()
    start = bench.clock.now
    bench.host("AT+FTS=8\r")
    assert bench.run_until_output(OK) == OK and bench.clock.now - start == 80 * MS
    quiet_from = bench.far.send_data(bytes(3600), "V.29/9600")  # a training and 3 s of data
    bench.run(0.1)
    bench.host("AT+FRS=20\r")
    got = bench.run_until_output(OK)
    assert got == OK
    assert bench.clock.now == quiet_from + 200 * MS


# -- answering -------------------------------------------------------------------------------
def test_ring_then_ata_sends_ced_and_connects_as_the_flags_begin() -> None:
    bench = Bench()
    bench.setup_fax()
    bench.far_line.dial("5550100")
    got = bench.run_until_output(b"RING")
    assert got == b"\r\nRING\r\n"
    assert bench.host("ATA\r") == b""
    got = bench.run_until_output(CONNECT, limit=10)
    assert got == CONNECT
    ced = bench.heard_of(ToneOn)
    assert ced and ced[0][1].tone == "ced"
    flags = bench.heard_of(CarrierUp)
    assert flags and flags[0][1].modulation == "V.21" and flags[0][0] == bench.clock.now
    csi = bytes((0xFF, 0x03, 0x40)) + b"0010555" + b" " * 13
    assert bench.host(stuffed(csi) + DLE_ETX) == CONNECT


def test_s0_answers_by_itself_after_that_many_rings() -> None:
    bench = Bench()
    bench.setup_fax()
    bench.host("ATS0=2\r")
    bench.far_line.dial("5550100")
    got = bench.run_until_output(CONNECT, limit=30)
    assert got == b"\r\nRING\r\n\r\nRING\r\n" + CONNECT


# -- ECM through +FTM/+FRM (HylaFAX runs HDLC itself) ----------------------------------------
def test_an_hdlc_bit_stream_from_the_host_goes_on_the_line_as_frames() -> None:
    bench = Bench()
    bench.connect_calling()
    rng = np.random.default_rng(3)
    frames = [bytes((0xFF, 0x03, 0x06, n)) + rng.bytes(256) for n in range(12)]
    encoder = HdlcBitStream()
    stream = b"\x7e" * 40 + b"".join(encoder.frame(f) for f in frames) + encoder.finish()
    bench.host("AT+FTM=146\r")
    bench.host(stuffed(stream) + DLE_ETX)
    assert bench.run_until_output(OK) == OK
    heard = bench.heard_of(FrameReceived)
    assert [e.frame for _, e in heard] == frames
    assert all(e.crc_ok and e.modulation == "V.17/14400" for _, e in heard)


def test_high_speed_frames_reach_the_host_as_an_hdlc_bit_stream() -> None:
    bench = Bench()
    bench.connect_calling()
    frames = [bytes((0xFF, 0x03, 0x06, n)) + bytes(range(256)) for n in range(6)]
    bench.host("AT+FRM=146\r")
    bench.far.send_hdlc(frames, "V.17/14400", short_train=True)
    got = bench.run_until_output(b"NO CARRIER")
    assert got.startswith(CONNECT) and got.endswith(DLE_ETX + b"\r\nNO CARRIER\r\n")
    body = got[len(CONNECT) : -len(DLE_ETX + b"\r\nNO CARRIER\r\n")].replace(b"\x10\x10", b"\x10")
    decoded = HdlcDecoder(invalid="drop").feed(body + b"\x7e")
    assert decoded == [HdlcFrame(f, True) for f in frames]
