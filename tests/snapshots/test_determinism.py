"""The test of snapshots is determinism: a script run straight through, and the same script
snapshotted at a step, restored in a new process and run on, write the same events.jsonl from that
step on, byte for byte, and the same printed pages and received documents. Cut at every step of a
script, in the middle of a fax call (phase B, phase C, an ECM retransmission) and while a
scan-to-email waits for its relay."""

from __future__ import annotations

import json
import mailbox

import pytest
from conftest import need_testdata

from .replays import assert_same_from, cuts, events, machine_dirs, replay

pytestmark = pytest.mark.slow

EVERY_STEP = """\
paper 30
press COPY
expect lcd "COPY READY"
adf load {chart2}
press 2 START
until printed 2 within 3m
press FUNCTION 3 2
press CLEAR 4 SET
until lcd "READY" within 10s
fault printer.jam
adf load {chart3}
press START
until lcd "PAPER JAM" within 2m
clear printer.jam
until printed 3 within 3m
power off
power on
until lcd "READY" within 1m
press FAX
expect journal "COPY"
"""


def with_snapshots(script: str) -> str:
    """A `snapshot cutN.snap` step after every step."""
    out = []
    for n, line in enumerate(script.splitlines(), start=1):
        out += [line, f"snapshot cut{n:02d}.snap"]
    return "\n".join(out) + "\n"


def run_on(tmp_path, cut, name):
    rest = tmp_path / f"{name}.txt"
    rest.write_text("\n".join(cut.rest) + "\n")
    proc = replay("--restore", cut.snapshot, rest, "--out", tmp_path / name, "--relay", "none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path / name


def test_a_script_cut_at_every_step_runs_on_from_each_cut_the_same(tmp_path):
    charts = {f"chart{n}": need_testdata("ccitt", f"itu{n}.pbm") for n in (2, 3)}
    plain = EVERY_STEP.format(**charts)
    cut_script = with_snapshots(plain)
    (tmp_path / "plain.txt").write_text(plain)
    (tmp_path / "cut.txt").write_text(cut_script)
    for name in ("plain", "cut"):
        proc = replay(tmp_path / f"{name}.txt", "--out", tmp_path / name, "--relay", "none")
        assert proc.returncode == 0, proc.stdout + proc.stderr
    # the snapshot steps themselves change nothing
    assert events(tmp_path / "cut") == events(tmp_path / "plain")
    found = cuts(cut_script, tmp_path)
    assert len(found) == len(plain.splitlines())
    for n, cut in enumerate(found, start=1):
        restored = run_on(tmp_path, cut, f"from{n:02d}")
        assert_same_from(tmp_path / "cut", restored, cut.snapshot)
    # the copies after the cut at step 5 (START) were printed by the restored run
    assert len(list((tmp_path / "from05" / "printed").glob("*.png"))) == 3


FAX_CALL = """\
device branch 5559876
adf load {chart}
fault line.noise
press 5 5 5 9 8 7 6 START
until lcd "DIALING" within 1m
snapshot dialing.snap
until state "phase_b" within 1m
snapshot phase_b.snap
until state "phase_c" within 1m
wait 3s
snapshot phase_c.snap
until state "phase_d" within 1m
wait 4s
snapshot retransmission.snap
until lcd "COMPLETED" within 3m
on branch until printed 1 within 2m
expect journal /TX +5559876 +P001 OK/
snapshot after.snap
press COPY
wait 1m
"""


def test_a_fax_call_cut_in_phase_b_in_phase_c_and_in_an_ecm_retransmission(tmp_path):
    script = FAX_CALL.format(chart=need_testdata("ccitt", "itu1.pbm"))
    (tmp_path / "call.txt").write_text(script)
    straight = tmp_path / "straight"
    proc = replay(tmp_path / "call.txt", "--out", straight, "--relay", "none")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = {cut.snapshot.stem: cut for cut in cuts(script, tmp_path)}
    main = [json.loads(line) for line in events(straight)]
    # where the cuts are: in phase B, in phase C, and after the receiver asked for frames again
    # (PPR) while they go out again, before the next PPS
    states = {c: read_state(found[c].snapshot) for c in found}
    assert states["phase_b"] == "job.fax_send/t30.phase_b"
    assert states["phase_c"] == "job.fax_send/t30.phase_c"
    ppr = next(i for i, e in enumerate(main) if e.get("frame") == "PPR")
    pps_after = next(i for i, e in enumerate(main) if i > ppr and e.get("frame") == "PPS")
    cut_at = machine_dirs(straight, found["retransmission"].snapshot)["main"][1]
    assert ppr < cut_at <= pps_after
    assert main[ppr + 1]["ev"] == "send_ecm" and ppr + 1 < cut_at  # frames going out again
    for name, cut in found.items():
        restored = run_on(tmp_path, cut, f"from_{name}")
        assert_same_from(straight, restored, cut.snapshot)
    # the page was printed by the far end in every run that took up the call
    for name in ("dialing", "phase_b", "phase_c", "retransmission"):
        assert len(list((tmp_path / f"from_{name}" / "branch" / "printed").glob("*.png"))) == 1


def read_state(snapshot):
    from estudio190f.panel.snapshot import read_header

    return next(m.state for m in read_header(snapshot).machines if m.name == "main")


SCAN_TO_EMAIL = """\
adf load {chart}
fault relay.down
press SCAN 2 CLEAR
type "office@example.com"
press START
until lcd "EMAIL ERROR" within 2m
expect led MEMORY on
snapshot waiting.snap
wait 1m
clear relay.down
until lcd "EMAIL SENT" within 1m
until lcd "SCAN READY" within 10s
expect journal "EMAIL"
"""


def test_a_scan_to_email_waiting_for_its_relay_is_cut_and_sent_from_the_snapshot(tmp_path):
    script = SCAN_TO_EMAIL.format(chart=need_testdata("ccitt", "itu1.pbm"))
    (tmp_path / "mail.txt").write_text(script)
    straight = tmp_path / "straight"
    proc = replay(tmp_path / "mail.txt", "--out", straight)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (cut,) = cuts(script, tmp_path)
    rest = tmp_path / "rest.txt"
    rest.write_text("\n".join(cut.rest) + "\n")
    restored = tmp_path / "restored"
    # The embedded relay starts on the port it had when the snapshot was taken (free again now),
    # so even the relay's address in the events is the same.
    proc = replay("--restore", cut.snapshot, rest, "--out", restored)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_same_from(straight, restored, cut.snapshot)
    tail = [json.loads(line) for line in events(restored)]
    assert [e["ev"] for e in tail if e["src"] == "email"][-1] == "result"
    # the one message the relay got is the same, byte for byte
    sent = [_messages(folder / "mail") for folder in (straight, restored)]
    assert len(sent[0]) == 1 and sent[0] == sent[1]


def _messages(maildir):
    box = mailbox.Maildir(str(maildir), create=False)
    return [box.get_bytes(key) for key in box.keys()]
