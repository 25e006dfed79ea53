"""Battery-backed memory: settings survive power cuts and restarts; a bad image is set aside."""

import os
import sqlite3
import subprocess
import sys
import textwrap

from estudio190f.hw.nvram import Nvram
from estudio190f.panel.pytest_plugin import make_driver


def test_settings_survive_power_off_and_on(fax):
    fax.step("press FUNCTION 3 2 6 SET")
    fax.step("power off")
    fax.step("power on")
    fax.until_lcd("FAX READY", within="30s")
    assert fax.firmware.settings.get("receive.rings") == 6


def test_settings_survive_a_restart_with_a_state_directory(tmp_path):
    first = make_driver(tmp_path / "a", state_dir=tmp_path / "state")
    first.step("press FUNCTION 2 2")
    first.type("NIGHT DESK")
    first.press("SET")
    first.sim.close()
    first.machine.board.nvram.close()
    second = make_driver(tmp_path / "b", state_dir=tmp_path / "state")
    assert second.firmware.settings.get("machine.station_name") == "NIGHT DESK"


def test_a_cut_in_the_middle_of_a_write_leaves_the_old_values(tmp_path):
    state = tmp_path / "state"
    nv = Nvram(state)
    nv.set_many("settings", {"receive.rings": 2, "machine.station_name": "OLD"})
    nv.close()
    # A process that dies (SIGKILL: no clean-up at all) between two writes of one transaction.
    child = textwrap.dedent(f"""
        import os, signal
        from estudio190f.hw.nvram import Nvram
        nv = Nvram({str(state)!r})
        with nv.transaction():
            nv.set("settings", "receive.rings", 9)
            nv.set("settings", "machine.station_name", "NEW")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True)
    assert proc.returncode == -9
    nv = Nvram(state)
    assert nv.reset_reason is None
    assert nv.get("settings", "receive.rings") == 2
    assert nv.get("settings", "machine.station_name") == "OLD"


def test_a_corrupt_nvram_image_is_set_aside_and_the_machine_says_so(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "nvram.sqlite").write_bytes(b"SQLite format 3\x00" + os.urandom(4000))
    fax = make_driver(tmp_path / "m", state_dir=state)
    assert fax.lcd == ["NVRAM RESET", "FACTORY DEFAULTS"]
    assert any(e["ev"] == "reset" and e["src"] == "nvram" for e in fax.events)
    assert (state / "nvram.sqlite.bad-1").exists()
    assert fax.firmware.settings.get("receive.rings") == 2
    fax.until_lcd("FAX READY", within="30s")
    assert fax.firmware.journal.entries()[-1].result == "NVRAM RESET"


def test_a_foreign_database_is_not_taken_for_ours(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    db = sqlite3.connect(state / "nvram.sqlite")
    db.execute("CREATE TABLE customers (name TEXT)")
    db.commit()
    db.close()
    nv = Nvram(state)
    assert nv.reset_reason == "NVRAM image belongs to something else"
    assert (state / "nvram.sqlite.bad-1").exists()


def test_a_file_that_is_not_sqlite_at_all_is_refused(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "nvram.sqlite").write_text("hello")
    nv = Nvram(state)
    assert "unknown format" in (nv.reset_reason or "")
