"""iaxmodem (Debian `iaxmodem` 1.2.0) on our IAX2 endpoint alone (the protocol core and its UDP
edge, without the machine), in real time (20 ms voice frames paced by the wall clock: iaxmodem is
a real-time peer). Pages must be identical on both sides.

- iaxmodem registers with an MD5 challenge and its device appears;
- our endpoint dials iaxmodem in µ-law; a SpanDSP sender sends to `efax -r` on its pty.

efax and HylaFAX sending to the machine, and HylaFAX's faxgetty receiving from it, through its
trunk: test_machine_trunk.py.

How iaxmodem is configured and started: tests/iax2/harness.py and docs/iax2.md.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from class1.peers import chart
from conftest import need_program
from PIL import Image

from estudio190f.firmware.page import Page
from estudio190f.firmware.tiff_f import write_tiff_f
from estudio190f.hw.iax2 import PeerRegistered
from estudio190f.hw.iax2_frames import Format
from estudio190f.hw.spandsp import FaxTerminal

from .harness import IAXMODEM_NUMBER, PEER_NAME, PEER_SECRET, IaxModem, Trunk
from .spandsp_fax import T30_ERR_OK, fax_terminal, need_spandsp

MACHINE_NUMBER = "5551234"  # the number our endpoint answers
EFAX_HEADER_ROWS = 28  # efax: 20 blank rows above the page, its header text on rows 4-27
SEND_DONE = 2  # faxsend's exit status when the job is done


@pytest.fixture
def place() -> Iterator[Path]:
    """A directory of its own under /tmp, without `_` (HylaFAX turns `/` into `_` and back),
    open to everyone (iaxmodem and HylaFAX run as uucp)."""
    path = Path("/tmp") / f"estudio190f-iax2-{secrets.token_hex(4)}"
    path.mkdir(mode=0o755)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def trunk() -> Iterator[Trunk]:
    trunk = Trunk(peers={PEER_NAME: PEER_SECRET})
    yield trunk
    trunk.close()


def started_modem(place: Path, trunk: Trunk, codec: str) -> IaxModem:
    need_program("iaxmodem", "stdbuf")
    modem = IaxModem(place, trunk, codec=codec)
    try:
        modem.wait_registered()
    except AssertionError:
        modem.stop()
        raise AssertionError(modem.output()) from None
    return modem


def standard_chart(place: Path, n: int = 1) -> tuple[Path, np.ndarray]:
    """Chart n at standard resolution (every other line) as TIFF-F, MH: half the air time."""
    page = np.ascontiguousarray(chart(n)[::2])
    path = place / f"chart{n}-standard.tif"
    path.write_bytes(write_tiff_f([Page(page, "standard")], coding="mh"))
    return path, page


def received_tiff(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return ~np.asarray(image.convert("1"), dtype=bool)


def efix_pages(path: Path) -> np.ndarray:
    """An efax reception decoded by efix (efax's own TIFFs lack width and length), padded to
    8.5 x 14 inches; True = black."""
    pbm = subprocess.run(["efix", "-o", "pbm", "-p", "8.5x14", str(path)],
                         capture_output=True, check=True, timeout=60).stdout  # fmt: skip
    out = path.with_suffix(".pbm")
    out.write_bytes(pbm)
    with Image.open(out) as image:
        return ~np.asarray(image, dtype=bool)


def remove_stale_lock(device: Path) -> None:
    """faxgetty leaves its UUCP lock behind when stopped; remove it once its process is gone."""
    lock = Path("/var/lock") / f"LCK..{device.name}"
    try:
        pid = int(lock.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        lock.unlink(missing_ok=True)
    except PermissionError:
        pass  # alive, someone else's


def assert_one_page_at_14400(terminal: FaxTerminal, trunk: Trunk, *, sent: bool) -> None:
    """Phase E went well, one page at V.17 14400 (no fallback: the audio was clean)."""
    stats = terminal.stats()
    what = (
        f"result {terminal.result}, {stats.bit_rate} bit/s, pages tx {stats.pages_tx} rx "
        f"{stats.pages_rx}, bad rows {stats.bad_rows}; frames up to {trunk.late * 1000:.0f} ms late"
    )
    assert terminal.result == T30_ERR_OK, what
    assert stats.bit_rate == 14400, what
    assert (stats.pages_tx, stats.pages_rx) == ((1, 0) if sent else (0, 1)), what
    assert stats.bad_rows == 0, what


@pytest.mark.peer
def test_iaxmodem_registers_with_the_md5_challenge_and_its_secret_stays_out_of_logs(
    place: Path, trunk: Trunk
) -> None:
    modem = started_modem(place, trunk, "slinear")
    try:
        [registered] = [e for e in trunk.events if isinstance(e, PeerRegistered)]
        assert registered.username == PEER_NAME and registered.address == modem.address
        assert "REGAUTH" in "\n".join(trunk.log)
        assert modem.device.is_symlink() and os.readlink(modem.device).startswith("/dev/pts/")
    finally:
        modem.stop()
    output = modem.output()
    assert "Registration completed successfully." in output
    assert PEER_SECRET not in output and PEER_SECRET not in "\n".join(trunk.log)
    assert not modem.device.exists(), "iaxmodem removes its device link when it stops"


@pytest.mark.peer
@pytest.mark.slow
def test_our_endpoint_calls_iaxmodem_and_efax_receives_the_page(place: Path, trunk: Trunk) -> None:
    need_program("efax", "efix")
    need_spandsp()
    document, source = standard_chart(place)
    modem = started_modem(place, trunk, "slinear")
    log_path = place / "efax.log"
    sender = fax_terminal(calling=True, ident=MACHINE_NUMBER, tx_file=document)
    try:
        with open(log_path, "w") as log:
            efax = subprocess.Popen(
                ["efax", "-d", str(modem.device), "-o1", "-l", IAXMODEM_NUMBER, "-v", "ewinchmart",
                 "-w", "-iS0=1", "-r", str(place / "fax")],
                stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
            try:
                trunk.run_for(1.0)  # efax sets the modem up (S0=1: answer on the first RING)
                # iaxmodem takes the caller's format (its own `codec` is for the calls it places)
                call = trunk.dial(modem.address, IAXMODEM_NUMBER, sender, preferred=Format.ULAW)
                trunk.run_until(lambda: efax.poll() is not None, 120, "efax to finish")
                trunk.run_until(lambda: trunk.ended(call), 10, "the call to end")
            finally:
                if efax.poll() is None:
                    efax.kill()
                    efax.wait()
    finally:
        modem.stop()
        sender.close()
    efax_log = log_path.read_text()
    assert efax.returncode == 0, efax_log[-3000:]
    assert "received 1188 lines, 0 errors" in efax_log
    assert_one_page_at_14400(sender, trunk, sent=True)
    assert trunk.endpoint.call_info(call).format == Format.ULAW
    [fax] = sorted(place.glob("fax.*"))
    page = efix_pages(fax)
    assert (page[: source.shape[0], :1728] == source).all()
    assert not page[source.shape[0] :].any() and not page[:, 1728:].any()
