"""The machine on the audio line (`--line audio`): calls carried as sound through the modem chips,
each recorded per station, the line's impairments from the settings, SpanDSP's own fax terminal as
a device in both directions, and the command line around it.

(tests/fax runs its tests on both lines; these are what only the audio line has.)
"""

from __future__ import annotations

import ctypes.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import need_testdata  # tests/conftest.py (tests/ is on sys.path)
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import read_tiff_f, write_tiff_f
from estudio190f.hw import spandsp
from estudio190f.hw.audio_line import NOISY_LINE_SNR_DB
from estudio190f.hw.audio_modem import power_dbm0
from estudio190f.hw.spandsp_modems import DtmfReceiver
from estudio190f.hw.wav import read_wav_file
from estudio190f.panel import cli
from estudio190f.panel.pytest_plugin import FaxDriver, make_driver
from estudio190f.panel.script import ScriptError

from .harness import need_spandsp

BRANCH = "5559876"
FAR = "5559999"


@pytest.fixture
def audio(tmp_path: Path) -> Any:
    """A factory of machines on the audio line, outputs under tmp_path/NAME."""
    need_spandsp()
    made: list[FaxDriver] = []

    def factory(name: str = "m", **options: Any) -> FaxDriver:
        folder = tmp_path / name
        folder.mkdir()
        driver = make_driver(folder, line="audio", **options)
        made.append(driver)
        return driver

    yield factory
    for driver in made:
        driver.sim.close()


def chart(n: int, resolution: str = "fine") -> Page:
    with Image.open(need_testdata("ccitt", f"itu{n}.pbm")) as image:
        pixels = ~np.asarray(image, dtype=bool)
    if resolution == "standard":
        pixels = pixels[::2]
    return Page(np.ascontiguousarray(pixels), resolution)


def scanned(fax: FaxDriver) -> list[Page]:
    pages: list[Page] = []
    fax.firmware.fax.scanned.add(lambda _f, _n, page: pages.append(page))
    return pages


def received(fax: FaxDriver) -> list[Page]:
    pages: list[Page] = []
    fax.firmware.fax.documents.add(lambda document: pages.extend(document.images))
    return pages


def negotiated(fax: FaxDriver) -> list[str]:
    return [e["params"].split(",")[0] for e in fax.events if e["ev"] == "negotiated"]


def send(fax: FaxDriver, number: str, *charts: int, within: str = "5m") -> None:
    fax.step("adf load " + " ".join(str(need_testdata("ccitt", f"itu{n}.pbm")) for n in charts))
    fax.press(*number, "START")
    fax.step(f'until lcd "COMPLETED" within {within}')


def recordings(folder: Path) -> list[Path]:
    return sorted((folder / "calls").glob("*.wav"))


def peak_hz(samples: np.ndarray) -> list[float]:
    """The two strongest frequencies of a stretch of sound."""
    spectrum = np.abs(np.fft.rfft(samples.astype(float) * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1 / 8000)
    top = []
    for index in np.argsort(spectrum)[::-1]:
        if all(abs(freqs[index] - f) > 30 for f in top):
            top.append(float(freqs[index]))
        if len(top) == 2:
            return sorted(top)
    return sorted(top)


# -- calls, recorded --------------------------------------------------------------------------------
def test_a_call_is_recorded_per_station_as_stereo_sent_and_heard(audio, tmp_path):
    main = audio("m")
    main.settings.set("transmit.header", "off")
    main.device("branch", BRANCH)
    send(main, BRANCH, 1)
    [ours] = recordings(tmp_path / "m" / "out")
    [theirs] = recordings(tmp_path / "m" / "out" / "branch")
    assert ours.name == "0001.wav"
    header = ours.read_bytes()[:44]
    assert header[22:24] == (2).to_bytes(2, "little")  # stereo
    assert int.from_bytes(header[24:28], "little") == 8000
    assert header[34:36] == (16).to_bytes(2, "little")
    caller, answerer = read_wav_file(ours).samples, read_wav_file(theirs).samples
    # The caller's recording starts when it dials: dial tone heard, then its DTMF digits sent.
    assert peak_hz(caller[:4000, 1]) == pytest.approx([350, 440], abs=10)
    digits = DtmfReceiver()
    digits.rx(np.ascontiguousarray(caller[: 8000 * 4, 0]))
    assert digits.digits == BRANCH
    ringing = caller[8000 * 4 : 8000 * 5, 1]  # the exchange's ring-back, a second after dialing
    assert peak_hz(ringing) == pytest.approx([440, 480], abs=10)
    # From the answer on, a clean line: what one station sent is what the other heard.
    offset = caller.shape[0] - answerer.shape[0]
    assert offset > 8000 * 8  # dialing and two rings before the answer
    assert np.array_equal(answerer[:, 1], caller[offset:, 0])
    assert np.array_equal(caller[offset:, 1], answerer[:, 0])


def test_decode_reads_the_recording_of_a_call(audio, tmp_path, capsys):
    main = audio("m")
    main.settings.set("transmit.header", "off")
    pages = scanned(main)
    main.device("branch", BRANCH)
    send(main, BRANCH, 2)
    [ours] = recordings(tmp_path / "m" / "out")
    capsys.readouterr()
    assert cli.main(["decode", str(ours), "--out", str(tmp_path / "pages")]) == 0
    lines = capsys.readouterr().out.splitlines()
    frames = [(line.split()[1], line.split()[2]) for line in lines if " ch" in line[:20]]
    assert ("ch2", "DIS") in frames and ("ch1", "DCS") in frames and ("ch2", "MCF") in frames
    assert frames.index(("ch2", "DIS")) < frames.index(("ch1", "DCS"))
    [document] = sorted((tmp_path / "pages").glob("ch1-doc*.tif"))
    [page] = read_tiff_f(document.read_bytes())
    assert np.array_equal(page.pixels, pages[0].pixels)


def test_a_call_nobody_answers_is_recorded_with_the_ring_back_cadence(audio, tmp_path):
    main = audio("m")
    branch = main.device("branch", BRANCH)
    main.settings.set("transmit.redial_tries", 0)
    branch.step("fault line.no_answer")
    main.step(f"adf load {need_testdata('ccitt', 'itu1.pbm')}")
    main.press(*BRANCH, "START")
    main.step('until lcd "NO ANSWER" within 3m')
    [ours] = recordings(tmp_path / "m" / "out")
    heard = read_wav_file(ours).samples[:, 1]
    first = 8000 * 34 // 10  # dial tone 1 s, seven digits 1.4 s, the exchange 1 s
    assert not heard[8000 + 800 : first - 800].any()  # quiet while dialing
    cycles = (heard.size - first) // 48000
    assert cycles >= 5
    for n in range(cycles):  # 2 s of 440 + 480 Hz, 4 s of silence
        on = heard[first + n * 48000 : first + n * 48000 + 16000]
        assert peak_hz(on) == pytest.approx([440, 480], abs=10)
        assert not heard[first + n * 48000 + 16000 + 80 : first + (n + 1) * 48000 - 80].any()
    assert recordings(tmp_path / "m" / "out" / "branch") == []  # it never went off hook


def test_the_same_seed_makes_the_same_noisy_call_byte_for_byte(audio, tmp_path):
    made = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        main = audio(name, seed=seed)
        main.device("branch", BRANCH)
        main.step("fault line.noise")
        send(main, BRANCH, 2)
        made.append(recordings(tmp_path / name / "out")[0].read_bytes())
    assert made[0] == made[1]
    assert made[0] != made[2]


# -- impairments ------------------------------------------------------------------------------
def test_a_noisy_line_falls_back_one_step_at_the_documented_snr(audio):
    main = audio("m")
    main.settings.set("transmit.header", "off")
    assert main.settings["line.snr_db"] == NOISY_LINE_SNR_DB
    pages = scanned(main)
    branch = main.device("branch", BRANCH)
    got = received(branch)
    main.step("fault line.noise")
    send(main, BRANCH, 1, 2)
    # V.17 14400 trains but its TCF fails at this SNR (FTT); 12000 passes
    assert negotiated(main) == ["V.17 14400", "V.17 12000"]
    responses = [
        e["frame"] for e in main.events if e["ev"] == "recv" and e["frame"] in ("FTT", "CFR")
    ]
    assert responses == ["FTT", "CFR"]
    assert main.journal[-1].endswith("P002 OK") and "V.17 12000" in str(
        main.firmware.journal.entries()[-1].speed
    )
    assert len(got) == 2 and all(
        np.array_equal(a.pixels, b.pixels) for a, b in zip(got, pages, strict=True)
    )


def test_a_cleaner_line_keeps_14400(audio):
    main = audio("m")
    main.settings.set("line.snr_db", 30)
    main.device("branch", BRANCH)
    main.step("fault line.noise")
    send(main, BRANCH, 2)
    assert negotiated(main) == ["V.17 14400"]


def test_attenuation_and_echo_from_the_settings(audio, tmp_path):
    main = audio("m")
    for key, value in (("line.attenuation_db", 10), ("line.echo_ms", 20), ("line.echo_db", 12)):
        main.settings.set(key, value)
    main.device("branch", BRANCH)
    send(main, BRANCH, 2)
    assert negotiated(main) == ["V.17 14400"] and main.journal[-1].endswith("OK")
    caller = read_wav_file(recordings(tmp_path / "m" / "out")[0]).samples.astype(np.int32)
    answerer = read_wav_file(recordings(tmp_path / "m" / "out" / "branch")[0]).samples
    offset = caller.shape[0] - answerer.shape[0]
    sent = caller[offset:, 0]
    loud = np.abs(sent) > 0
    # the far end hears us 10 dB down (the loop's loss, both ways)
    loss = power_dbm0(sent[loud]) - power_dbm0(answerer[:, 1][loud])
    assert loss == pytest.approx(10, abs=0.2)
    # and we hear our own sound 20 ms later, 12 dB down: the echo, while the far end is quiet
    quiet = np.abs(answerer[:, 0]) == 0
    delay = 20 * 8
    echo = caller[offset + delay :, 1][quiet[delay:]]
    ours = sent[: sent.size - delay][quiet[delay:]]
    level = power_dbm0(ours[ours != 0]) - power_dbm0(echo[ours != 0])
    assert level == pytest.approx(12, abs=0.5)


# -- SpanDSP's fax terminal as a device ------------------------------------------------------------
def spandsp_document(tmp_path: Path) -> tuple[Path, Page]:
    page = chart(2, "standard")
    path = tmp_path / "chart2.tif"
    path.write_bytes(write_tiff_f([page], "mh"))
    return path, page


def tiff_page(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return ~np.asarray(image.convert("1"), dtype=bool)


@pytest.mark.parametrize("ecm", ["on", "off"])
def test_the_machine_sends_to_spandsp(audio, tmp_path, ecm):
    main = audio("m")
    main.settings.set("modem.ecm", ecm)
    main.settings.set("transmit.header", "off")
    pages = scanned(main)
    main.step(f"device far {FAR} spandsp")
    send(main, FAR, 1)
    far = main.sim.devices["far"]
    [result] = far.results
    assert result.ok and result.direction == "receive" and result.pages == 1
    assert result.ecm is (ecm == "on") and result.bit_rate == 14400
    [document] = sorted((tmp_path / "m" / "out" / "far" / "received").glob("*.tif"))
    assert np.array_equal(tiff_page(document), pages[0].pixels)
    assert recordings(tmp_path / "m" / "out" / "far")  # its calls are recorded too


@pytest.mark.parametrize("ecm", ["on", "off"])
def test_spandsp_sends_to_the_machine(audio, tmp_path, ecm):
    main = audio("m")
    main.settings.set("modem.ecm", ecm)
    got = received(main)
    document, page = spandsp_document(tmp_path)
    main.step(f"device far {FAR} spandsp")
    main.step(f"on far send {main.machine.number} {document}")
    main.step('until lcd "RECEIVING" within 1m')
    main.step("until printed 1 within 3m")
    [result] = main.sim.devices["far"].results
    assert result.ok and result.direction == "send" and result.pages == 1
    assert result.ecm is (ecm == "on")
    assert len(got) == 1 and np.array_equal(got[0].pixels, page.pixels)
    entry = main.firmware.journal.entries()[-1]
    assert (entry.kind, entry.result, entry.pages) == ("RX", "OK", 1)


def test_spandsp_gets_busy_when_the_machine_is_on_a_call(audio, tmp_path):
    main = audio("m")
    document, _ = spandsp_document(tmp_path)
    main.step(f"device far {FAR} spandsp")
    main.step("fault line.busy")
    main.step(f"on far send {main.machine.number} {document}")
    main.run_for("20s")
    [result] = main.sim.devices["far"].results
    assert (result.ok, result.text) == (False, "busy")


def script_run(tmp_path: Path, text: str, *options: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.txt"
    script.write_text(text)
    command = [sys.executable, "-m", "estudio190f.panel.cli", "replay", str(script),
               "--relay", "none", *options]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)


def test_a_spandsp_device_needs_the_audio_line(tmp_path):
    run = script_run(tmp_path, f"device far {FAR} spandsp\n")
    assert run.returncode == 2
    assert "script.txt:1" in run.stderr and "needs the audio line" in run.stderr


def test_send_is_for_a_spandsp_device_only(audio, tmp_path):
    main = audio("m")
    document, _ = spandsp_document(tmp_path)
    main.device("branch", BRANCH)
    main.step(f"device far {FAR} spandsp")
    with pytest.raises(ScriptError, match="send is for a SpanDSP device"):
        main.step(f"on branch send {FAR} {document}")
    with pytest.raises(ScriptError, match="far-end device, not a machine: it takes only `on"):
        main.step("on far press START")
    with pytest.raises(ScriptError, match="no such file"):
        main.step(f"on far send {BRANCH} missing.tif")


# -- the command line -------------------------------------------------------------------------------
SCRIPT = f"""device branch {BRANCH}
adf load {{chart}}
press {" ".join(BRANCH)} START
until lcd "COMPLETED" within 3m
"""


def test_replay_line_audio_records_every_call(tmp_path):
    need_spandsp()
    text = SCRIPT.format(chart=need_testdata("ccitt", "itu2.pbm"))
    run = script_run(tmp_path, text, "--line", "audio", "--out", "out")
    assert run.returncode == 0, run.stdout + run.stderr
    assert [p.name for p in recordings(tmp_path / "out")] == ["0001.wav"]
    assert [p.name for p in recordings(tmp_path / "out" / "branch")] == ["0001.wav"]


def test_the_settings_file_chooses_the_line_and_the_command_line_wins(tmp_path):
    need_spandsp()
    text = SCRIPT.format(chart=need_testdata("ccitt", "itu2.pbm"))
    (tmp_path / "audio.toml").write_text('[line]\nmode = "audio"\n')
    run = script_run(tmp_path, text, "--config", "audio.toml", "--out", "a")
    assert run.returncode == 0, run.stdout + run.stderr
    assert len(recordings(tmp_path / "a")) == 1
    run = script_run(tmp_path, text, "--config", "audio.toml", "--line", "signal", "--out", "s")
    assert run.returncode == 0, run.stdout + run.stderr
    assert recordings(tmp_path / "s") == []


def test_line_audio_without_spandsp_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(spandsp, "_library", None)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    script = tmp_path / "s.txt"
    script.write_text("lcd?\n")
    assert cli.main(["replay", str(script), "--line", "audio", "--relay", "none"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "--line audio" in error and "libspandsp2" in error
    assert cli.main(["replay", str(script), "--relay", "none"]) == 0  # the signal line needs none


def test_line_settings_are_in_the_setup_menu():
    from estudio190f.firmware.menu import walk

    found = {item.setting: path for path, item in walk() if item.setting}
    keys = ("line.mode", "line.snr_db", "line.attenuation_db", "line.echo_ms", "line.echo_db")
    paths = [found[key] for key in keys]
    assert len({path.rsplit("-", 1)[0] for path in paths}) == 1  # one sub-menu


def test_the_line_mode_set_like_the_menu_takes_the_next_call(tmp_path):
    need_spandsp()
    main = make_driver(tmp_path)  # the signal line
    try:
        main.device("branch", BRANCH)
        send(main, BRANCH, 2)
        assert recordings(tmp_path / "out") == []
        main.settings.set("line.mode", "audio")
        main.step('until lcd "FAX READY" within 10s')
        send(main, BRANCH, 2)
        assert [p.name for p in recordings(tmp_path / "out")] == ["0001.wav"]
        assert any(e["ev"] == "mode" and e["mode"] == "audio" for e in main.events)
    finally:
        main.sim.close()
