"""`decode FILE.wav`: the T.30 frames of a recorded call, one a line, and its pages as TIFF-F,
from recordings that other fax software made (SpanDSP's terminals, sox's µ-law) and from ours."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import need_program  # tests/conftest.py (tests/ is on sys.path)

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f
from estudio190f.hw.spandsp import T30_ERR_OK, FaxTerminal
from estudio190f.hw.wav import write_wav_file
from estudio190f.panel import decode_wav as tool

from .harness import AudioPair, ScriptedCaller, chart_page, need_spandsp
from .test_spandsp_interop import spandsp_pair


def spandsp_call(tmp: Path, pages: list[Page], ecm: bool) -> Path:
    """Two SpanDSP fax terminals back to back; the caller's side recorded as a stereo WAV
    (channel 1 what it sent, channel 2 what it heard)."""
    document = tmp / "tx.tif"
    document.write_bytes(write_tiff_f(pages))
    caller = FaxTerminal(True, ident="CALLER", tx_file=str(document), ecm=ecm)
    answerer = FaxTerminal(False, ident="ANSWERER", rx_file=str(tmp / "rx.tif"), ecm=ecm)
    sent, heard = [], []
    while (caller.result is None or answerer.result is None) and len(sent) < 50 * 300:
        out, back = caller.tx(160), answerer.tx(160)
        answerer.rx(out)
        caller.rx(back)
        sent.append(out)
        heard.append(back)
    assert caller.result == answerer.result == T30_ERR_OK
    path = tmp / "call.wav"
    write_wav_file(path, np.stack((np.concatenate(sent), np.concatenate(heard)), axis=1))
    return path


@pytest.fixture(scope="module")
def pages() -> list[Page]:
    need_spandsp()
    return [chart_page(1, "fine"), chart_page(4, "fine")]


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory, pages: list[Page]) -> Path:
    return spandsp_call(tmp_path_factory.mktemp("call"), pages, ecm=False)


def names(output: str) -> list[tuple[str, str]]:
    """(channel, frame name) of each frame line."""
    rows = [
        line.split()
        for line in output.splitlines()
        if line.strip() and line.split()[1].startswith("ch")
    ]
    return [(row[1], row[2]) for row in rows]


def test_lists_the_frames_of_a_spandsp_call(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tool.decode_wav(recording, tmp_path) == 0
    out = capsys.readouterr().out
    assert names(out) == [
        ("ch2", "CSI"), ("ch2", "DIS"), ("ch1", "TSI"), ("ch1", "DCS"), ("ch2", "CFR"),
        ("ch1", "MPS"), ("ch2", "MCF"), ("ch1", "EOP"), ("ch2", "MCF"), ("ch1", "DCN"),
    ]  # fmt: skip
    dcs = next(line for line in out.splitlines() if " DCS " in line)
    assert "V.17 14400, fine" in dcs  # what the frame says, as the session trace says it
    times = [float(line.split()[0]) for line in out.splitlines() if " ch" in line]
    assert times == sorted(times) and 0 < times[0] < times[-1] < 120


def test_writes_the_pages_as_tiff_f(recording: Path, tmp_path: Path, pages: list[Page]) -> None:
    assert tool.decode_wav(recording, tmp_path / "out") == 0
    got = read_tiff_f((tmp_path / "out" / "ch1-doc1.tif").read_bytes())
    assert [p.resolution for p in got] == ["fine", "fine"]
    assert all(np.array_equal(g.pixels, p.pixels) for g, p in zip(got, pages, strict=True))


def test_reads_the_same_call_after_sox_made_it_mu_law_and_mono(
    recording: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_program("sox")
    ulaw = tmp_path / "ulaw.wav"
    subprocess.run(["sox", str(recording), "-e", "u-law", str(ulaw)], check=True)
    assert tool.decode_wav(ulaw, tmp_path / "u") == 0
    stereo = names(capsys.readouterr().out)
    assert len(stereo) == 10
    mono = tmp_path / "mono.wav"  # both directions mixed on one channel, as a line tap records
    subprocess.run(["sox", str(recording), "-e", "a-law", str(mono), "remix", "1,2"], check=True)
    assert tool.decode_wav(mono, tmp_path / "m") == 0
    assert [name for _, name in names(capsys.readouterr().out)] == [name for _, name in stereo]
    assert len(read_tiff_f((tmp_path / "m" / "ch1-doc1.tif").read_bytes())) == 2


def test_reads_an_ecm_call(
    tmp_path: Path, pages: list[Page], capsys: pytest.CaptureFixture[str]
) -> None:
    path = spandsp_call(tmp_path, pages[:1], ecm=True)
    assert tool.decode_wav(path, tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert ("ch1", "PPS") in names(out) and "ECM" in next(
        line for line in out.splitlines() if " DCS " in line
    )
    (got,) = read_tiff_f((tmp_path / "out" / "ch1-doc1.tif").read_bytes())
    assert np.array_equal(got.pixels, pages[0].pixels)


def test_reads_our_own_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Our chip sending to SpanDSP: the link's recording of our side (channel 1 sent, channel 2
    heard) decodes to the call's frames and our page."""
    need_spandsp()
    page = chart_page(3, "standard")
    terminal = FaxTerminal(False, rx_file=str(tmp_path / "rx.tif"))
    pair: AudioPair = spandsp_pair(terminal)
    ScriptedCaller(pair.a.modem, page, "V.29/9600")
    pair.run(90, until=lambda: terminal.result is not None)
    write_wav_file(tmp_path / "ours.wav", pair.link.recording(pair.a.chip))
    args = argparse.ArgumentParser()
    tool.add_arguments(args)
    assert (
        tool.run(args.parse_args([str(tmp_path / "ours.wav"), "--out", str(tmp_path / "o")])) == 0
    )
    found = names(capsys.readouterr().out)
    assert ("ch2", "DIS") in found and ("ch1", "DCS") in found and ("ch1", "EOP") in found
    (got,) = read_tiff_f((tmp_path / "o" / "ch1-doc1.tif").read_bytes())
    assert np.array_equal(got.pixels, page.pixels)


def test_a_malformed_file_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEnot really")
    assert tool.decode_wav(bad, tmp_path) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "bad.wav" in captured.err
    assert tool.decode_wav(tmp_path / "absent.wav", tmp_path) == 2
