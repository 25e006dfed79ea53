"""Fuzzing what comes from outside the machine: SMTP replies, T.4/T.6 streams, HDLC bit streams,
TIFF files and T.30 frames. The property everywhere: a clear result or the module's own error,
never another exception (a traceback) or a hang.

Quick by default; ESTUDIO190F_FUZZ=N multiplies the counts (docs/reliability.md).
"""

from __future__ import annotations

import os
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from estudio190f.firmware import codec
from estudio190f.firmware.codec import CodecError
from estudio190f.firmware.email.session import Envelope, SessionSettings, SmtpSession
from estudio190f.firmware.page import Page
from estudio190f.firmware.t30 import events as ev
from estudio190f.firmware.t30.session import KeepAll, StationConfig, T30Session
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f
from estudio190f.hw.hdlc import HdlcAbort, HdlcDecoder, HdlcEncoder, HdlcFrame
from estudio190f.hw.lan import REPLY_LINE_LIMIT, Reply, ReplyReader

SCALE = int(os.environ.get("ESTUDIO190F_FUZZ", "1"))


def examples(n: int):
    return settings(max_examples=n * SCALE, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])  # fmt: skip


# -- SMTP replies ----------------------------------------------------------------------------------
REPLY_LINES = st.one_of(
    st.binary(max_size=200),
    st.builds(lambda c, sep, t: f"{c}{sep}{t}".encode(),
              st.integers(100, 699), st.sampled_from([" ", "-", "", "x"]), st.text(max_size=80)),
    st.just(b"250-AUTH CRAM-MD5\r\n"), st.just(b"334 " + b"A" * 2000),
)  # fmt: skip


@examples(300)
@given(st.lists(REPLY_LINES, max_size=30), st.integers(1, 64))
def test_any_bytes_from_a_relay_read_as_replies_or_one_unreadable(chunks, cut):
    reader = ReplyReader()
    data = b"\r\n".join(chunks)
    replies: list[Reply] = []
    for i in range(0, len(data), cut):  # as the socket hands them over, in pieces
        replies += reader.feed(data[i : i + cut])
    for reply in replies:
        assert (200 <= reply.code <= 599 and not reply.failure) or (
            reply.code == 0 and reply.failure == "unreadable"
        )
        assert len(reply.text) <= 200
    assert len(reader.buffer) <= REPLY_LINE_LIMIT


@examples(200)
@given(st.lists(st.tuples(st.integers(0, 599), st.text(max_size=60)), min_size=1, max_size=40),
       st.sampled_from(["cram-md5", "plain", "login", "none"]),
       st.sampled_from(["none", "starttls", "tls"]))  # fmt: skip
def test_the_smtp_policy_takes_any_replies_and_ends(replies, auth, security):
    session = SmtpSession(
        SessionSettings(security, auth, "tim", "tanstaaftanstaaf", allow_clear_text=True),
        [Envelope(1, "fax@example.com", ("a@example.com",), b"message")],
    )
    step = session.start()
    for code, text in replies:
        if type(step).__name__ == "Done":
            break
        failure = "dropped" if code == 0 else ""
        features = {"auth": "CRAM-MD5 PLAIN LOGIN", "starttls": ""}
        step = session.receive(Reply(code, text, failure), features)
    assert "tanstaaftanstaaf" not in repr(step)


# -- T.4 / T.6 streams -----------------------------------------------------------------------------
@examples(200)
@given(st.binary(max_size=3000), st.sampled_from(["mh", "mr", "mmr"]),
       st.sampled_from([1728, 2048, 2432]), st.booleans())  # fmt: skip
def test_any_stream_decodes_to_lines_and_figures_never_raises(data, coding, width, msb):
    started = time.perf_counter()
    result = codec.decode(data, coding, width=width, msb_first=msb, max_lines=400)
    assert result.pixels.shape[1] == width and result.pixels.shape[0] <= 400
    assert time.perf_counter() - started < 5


@examples(60)
@given(st.integers(1, 60), st.sampled_from(["mh", "mr", "mmr"]), st.integers(0, 2**32 - 1))
def test_a_damaged_stream_keeps_the_lines_before_the_damage(lines, coding, seed):
    rng = np.random.default_rng(seed)
    pixels = rng.random((lines, 1728)) < 0.05
    data = bytearray(codec.encode(pixels, coding))
    data[len(data) // 2] ^= 0xFF
    result = codec.decode(bytes(data), coding, width=1728, max_lines=lines + 10)
    assert result.pixels.shape[1] == 1728


# -- HDLC ------------------------------------------------------------------------------------------
@examples(200)
@given(st.lists(st.binary(min_size=4, max_size=60), max_size=5), st.binary(max_size=300),
       st.sampled_from(["report", "drop"]), st.integers(1, 40))  # fmt: skip
def test_hdlc_frames_come_back_and_noise_never_raises(frames, noise, invalid, cut):
    encoder = HdlcEncoder()
    stream = encoder.frames(frames) + encoder.flags(2) + encoder.finish()
    decoder = HdlcDecoder(invalid=invalid)
    decoded = []
    for i in range(0, len(stream), cut):
        decoded += decoder.feed(stream[i : i + cut])
    good = [e.data for e in decoded if isinstance(e, HdlcFrame) and e.fcs_ok]
    assert good == list(frames)
    for event in decoder.feed(noise):  # anything at all: bad frames, aborts, nothing
        assert isinstance(event, HdlcFrame | HdlcAbort)


# -- TIFF ------------------------------------------------------------------------------------------
@examples(150)
@given(st.binary(max_size=2000), st.integers(0, 400), st.binary(max_size=40))
def test_any_tiff_bytes_read_as_pages_or_codec_error(noise, at, patch):
    page = Page(np.zeros((40, 1728), dtype=bool), "fine")
    good = bytearray(write_tiff_f([page], "mh"))
    for data in (bytes(noise), bytes(good[:at]) + patch + bytes(good[at + len(patch) :])):
        try:
            pages = read_tiff_f(data)
        except CodecError:
            continue
        assert all(p.pixels.ndim == 2 for p in pages)


# -- T.30 frames -----------------------------------------------------------------------------------
@examples(200)
@given(st.lists(st.tuples(st.binary(min_size=0, max_size=40), st.booleans()), max_size=25),
       st.sampled_from(["caller", "answerer"]))  # fmt: skip
def test_the_t30_engine_takes_any_frames_and_keeps_its_state(frames, role):
    session = T30Session(role, StationConfig(), [], KeepAll())
    commands = session.start()
    for data, crc_ok in frames:
        commands = session.handle(ev.FrameIn(b"\xff\x13" + data, crc_ok, "V.21"))
        assert isinstance(commands, list)
    assert isinstance(session.state, str)
