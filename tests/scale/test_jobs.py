"""`replay --jobs N`: scripts run in N processes and read as if they had run in one (output in
script order, the same JUnit, the same files under --out, the worst exit status), a worker that
dies loses only its own script, and Ctrl-C stops every worker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from estudio190f.panel.jobs import Lost, run_in_processes

CLI = [sys.executable, "-m", "estudio190f.panel.cli"]
PASS = 'press COPY\nexpect lcd "COPY READY"\nexpect led COPY on\nwait 2h\nlcd?\n'
PASS_FAX = 'press SCAN\nexpect lcd "SCAN READY"\nstate?\n'
FAIL = 'press COPY\nexpect lcd "FAX READY"\n'
ERROR = "press COPY\npress NOKEY\n"


def suite(folder: Path, kinds: list[str]) -> list[str]:
    """Script files named after what they do, in the given order; their paths."""
    texts = {"pass": PASS, "scan": PASS_FAX, "fail": FAIL, "error": ERROR}
    paths = []
    for n, kind in enumerate(kinds):
        path = folder / f"{n:02d}-{kind}.txt"
        path.write_text(texts[kind])
        paths.append(str(path))
    return paths


def replay(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "replay", "--relay", "none", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def without_walls(text: str) -> str:
    """Wall-clock figures are the only thing that may differ between two runs."""
    text = re.sub(r"[0-9.]+ s wall", "X s wall", text)
    return re.sub(r'time="[0-9.]+"', 'time="X"', text)


def files_under(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


def test_jobs_give_what_one_process_gives(tmp_path: Path) -> None:
    scripts = suite(tmp_path, ["pass", "fail", "scan", "pass", "error", "pass", "scan"])
    runs = {}
    for jobs in ("1", "2", "3"):
        proc = subprocess.run(
            [*CLI, "replay", "--relay", "none", *scripts, "--jobs", jobs,
             "--junit", str(tmp_path / f"junit{jobs}.xml"), "--out", str(tmp_path / f"out{jobs}")],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
        )  # fmt: skip
        runs[jobs] = proc
    one = runs["1"]
    assert one.returncode == 2  # a script error is the worst that happened
    assert "PASS" in one.stdout and "FAIL" in one.stdout and "ERROR" in one.stdout
    for jobs in ("2", "3"):
        assert runs[jobs].returncode == one.returncode
        # stdout and stderr together, in the order one process writes them
        assert without_walls(runs[jobs].stdout) == without_walls(one.stdout)
        assert without_walls((tmp_path / f"junit{jobs}.xml").read_text()) == without_walls(
            (tmp_path / "junit1.xml").read_text()
        )
        assert files_under(tmp_path / f"out{jobs}") == files_under(tmp_path / "out1")
    # every script that started left its event log (the one with a bad line never started)
    logs = {name for name in files_under(tmp_path / "out1") if name.endswith("events.jsonl")}
    assert logs == {f"{Path(p).stem}/events.jsonl" for p in scripts if "error" not in p}


@pytest.mark.parametrize(
    ("kinds", "status"),
    [
        (["pass", "pass", "scan"], 0),
        (["pass", "fail", "pass"], 1),
        (["fail", "pass", "error", "pass"], 2),
        (["error", "fail"], 2),
    ],
)
def test_the_worst_exit_status_wins(tmp_path: Path, kinds: list[str], status: int) -> None:
    proc = replay(*suite(tmp_path, kinds), "--jobs", "2", cwd=tmp_path)
    assert proc.returncode == status, proc.stderr


def test_jobs_without_a_number_is_one_per_cpu(tmp_path: Path) -> None:
    proc = replay(*suite(tmp_path, ["pass", "scan", "pass"]), "--jobs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("PASS") == 3


def test_a_bad_jobs_value_is_a_usage_error(tmp_path: Path) -> None:
    proc = replay(*suite(tmp_path, ["pass"]), "--jobs", "-2", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--jobs" in proc.stderr


def test_a_worker_that_dies_loses_only_its_own_call() -> None:
    calls = [
        ("print('first')",),
        ("import os; os._exit(7)",),
        ("import sys; print('third to stderr', file=sys.stderr)",),
        ("print('fourth')",),
    ]
    outcomes = list(run_in_processes(exec, calls, 2))
    assert outcomes[0] is None and outcomes[2] is None and outcomes[3] is None
    assert isinstance(outcomes[1], Lost)
    assert "exit status 7" in outcomes[1].reason


def test_output_of_each_call_comes_back_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    # The later calls are quick, the first slow: the output still reads first to last.
    calls = [("import time; time.sleep(0.5); print('one')",)] + [
        (f"print('call {n}')",) for n in range(2, 6)
    ]
    list(run_in_processes(exec, calls, 3))
    assert capsys.readouterr().out.split() == [
        "one",
        "call",
        "2",
        "call",
        "3",
        "call",
        "4",
        "call",
        "5",
    ]


def test_an_exception_in_a_call_is_raised_in_its_turn(capsys: pytest.CaptureFixture[str]) -> None:
    calls = [("print('before')",), ("raise ValueError('in the worker')",), ("print('after')",)]
    outcomes = run_in_processes(exec, calls, 2)
    assert next(outcomes) is None
    with pytest.raises(ValueError, match="in the worker"):
        next(outcomes)
    assert capsys.readouterr().out == "before\n"


def children_of(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(p) for p in text)
    return found


@pytest.mark.slow
def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    slow = "press COPY\n" + "wait 24h\n" * 200  # a few seconds of wall time a script
    scripts = []
    for n in range(6):
        path = tmp_path / f"slow{n}.txt"
        path.write_text(slow)
        scripts.append(str(path))
    proc = subprocess.Popen([*CLI, "replay", "--relay", "none", *scripts, "--jobs", "2"],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    workers: set[int] = set()
    deadline = time.monotonic() + 60
    while len(workers) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
        workers = {
            p
            for p in children_of(proc.pid)
            if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()
        }
    assert len(workers) == 2
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C in a terminal reaches the whole group
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err
    time.sleep(0.5)
    assert not [p for p in workers if Path(f"/proc/{p}").exists()]


def test_workers_that_keep_dying_are_given_up_on() -> None:
    calls = [("import os; os._exit(3)",)] * 30
    start = time.monotonic()
    outcomes = list(run_in_processes(exec, calls, 2))
    assert all(isinstance(o, Lost) for o in outcomes)
    assert "keep dying" in outcomes[-1].reason  # type: ignore[union-attr]
    assert time.monotonic() - start < 20  # not thirty workers started one after another


def test_jobs_merge_coverage_as_one_process_counts_it(tmp_path: Path) -> None:
    scripts = suite(tmp_path, ["pass", "scan", "pass", "fail"])
    one = replay(*scripts, "--coverage", str(tmp_path / "one.json"), cwd=tmp_path)
    two = replay(*scripts, "--jobs", "2", "--coverage", str(tmp_path / "two.json"), cwd=tmp_path)
    assert one.returncode == two.returncode == 1
    summary = [line for line in one.stdout.splitlines() if re.match(r"\w+ \d+/\d+ \d+%", line)]
    assert summary and any(line.startswith("transitions ") for line in summary)
    # the same summary lines, once, after the scripts' own output
    assert [line for line in two.stdout.splitlines() if line in summary] == summary
    assert (tmp_path / "two.json").read_text() == (tmp_path / "one.json").read_text()
