"""`replay --shard K/N`: the K-th of N disjoint slices of a suite, the same slice whatever order
the scripts are given in, `auto/N` from Kubernetes' JOB_COMPLETION_INDEX (from 0), and JUnit
files of the shards that merge into the full run's."""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from estudio190f.panel.jobs import Shard, merge_junit

CLI = [sys.executable, "-m", "estudio190f.panel.cli"]
PASS = 'press COPY\nexpect lcd "COPY READY"\n'
FAIL = 'press COPY\nexpect lcd "FAX READY"\n'


def test_shard_parse() -> None:
    assert Shard.parse("1/3") == Shard(1, 3)
    assert Shard.parse("3/3") == Shard(3, 3)
    assert Shard.parse("auto/4", {"JOB_COMPLETION_INDEX": "0"}) == Shard(1, 4)
    assert Shard.parse("auto/4", {"JOB_COMPLETION_INDEX": "3"}) == Shard(4, 4)


@pytest.mark.parametrize(
    ("text", "environ", "says"),
    [
        ("0/3", {}, "K counts from 1 to N"),
        ("4/3", {}, "K counts from 1 to N"),
        ("1/0", {}, "N a whole number from 1"),
        ("x/3", {}, "K a whole number"),
        ("3", {}, "K/N or auto/N"),
        ("auto/3", {}, "not set"),
        ("auto/3", {"JOB_COMPLETION_INDEX": "three"}, "'three'"),
        ("auto/3", {"JOB_COMPLETION_INDEX": "3"}, "K counts from 1 to N"),
    ],
)
def test_bad_shards_are_refused(text: str, environ: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        Shard.parse(text, environ)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 12, 13])
def test_slices_are_disjoint_cover_the_suite_and_are_even(count: int) -> None:
    paths = [Path(f"suite/{name}.txt") for name in "abcdefghijkl"]
    slices = [[paths[i] for i in Shard(k, count).select(paths)] for k in range(1, count + 1)]
    everything = [p for s in slices for p in s]
    assert sorted(everything) == sorted(paths)  # each script once
    sizes = [len(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1


def test_a_script_is_in_the_same_slice_whatever_the_order() -> None:
    paths = [Path(f"suite/s{n:02d}.txt") for n in range(20)]
    mixed = paths[:]
    random.Random(4).shuffle(mixed)
    for k in (1, 2, 3):
        in_order = {paths[i] for i in Shard(k, 3).select(paths)}
        shuffled = [mixed[i] for i in Shard(k, 3).select(mixed)]
        assert set(shuffled) == in_order
        # and the slice keeps the order the scripts were given in
        assert shuffled == [p for p in mixed if p in in_order]


def write_suite(folder: Path) -> list[str]:
    folder.mkdir()
    paths = []
    for n in range(7):
        path = folder / f"s{n}.txt"
        path.write_text(FAIL if n == 4 else PASS)
        paths.append(str(path))
    # the same name twice: its output folder is s1-2 in the full run and in any shard
    (folder / "again").mkdir()
    (folder / "again" / "s1.txt").write_text(PASS)
    paths.append(str(folder / "again" / "s1.txt"))
    return paths


def replay(scripts: list[str], *args: str, cwd: Path, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return subprocess.run([*CLI, "replay", "--relay", "none", *scripts, *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})  # fmt: skip


def ran(output: str) -> set[str]:
    return set(re.findall(r"^(?:PASS|FAIL) (\S+?)(?::\d+)?[ :]", output, re.M))


def test_shards_of_a_suite_run_it_once_with_the_full_runs_outputs(tmp_path: Path) -> None:
    scripts = write_suite(tmp_path / "suite")
    full = replay(scripts, "--out", str(tmp_path / "full"), "--junit", str(tmp_path / "full.xml"),
                  cwd=tmp_path)  # fmt: skip
    assert full.returncode == 1
    seen: list[str] = []
    statuses = []
    for k in (1, 2, 3):
        proc = replay(scripts, "--shard", f"{k}/3", "--out", str(tmp_path / f"shard{k}"),
                      "--junit", str(tmp_path / f"shard{k}.xml"), cwd=tmp_path)  # fmt: skip
        statuses.append(proc.returncode)
        seen += ran(proc.stdout + proc.stderr)
        # each shard's output folders are named as in the full run
        for folder in (tmp_path / f"shard{k}").iterdir():
            assert (tmp_path / "full" / folder.name / "events.jsonl").read_bytes() == (
                folder / "events.jsonl"
            ).read_bytes()
    assert len(seen) == len(scripts)  # no script twice
    assert set(seen) == ran(full.stdout + full.stderr) == set(scripts)
    assert sorted(statuses) == [0, 0, 1]  # the failing script is in exactly one shard
    merge_junit([tmp_path / f"shard{k}.xml" for k in (1, 2, 3)], tmp_path / "merged.xml")
    merged = ElementTree.parse(tmp_path / "merged.xml").getroot()
    whole = ElementTree.parse(tmp_path / "full.xml").getroot()
    assert merged.get("tests") == whole.get("tests") == str(len(scripts))
    assert merged.get("failures") == whole.get("failures") == "1"
    assert merged.get("errors") == whole.get("errors") == "0"
    names = sorted(c.get("name", "") for c in merged.iter("testcase"))
    assert names == sorted(c.get("name", "") for c in whole.iter("testcase"))


def test_auto_takes_the_kubernetes_index_plus_one(tmp_path: Path) -> None:
    scripts = write_suite(tmp_path / "suite")
    by_number = replay(scripts, "--shard", "2/3", cwd=tmp_path)
    by_index = replay(scripts, "--shard", "auto/3", cwd=tmp_path, env={"JOB_COMPLETION_INDEX": "1"})
    assert ran(by_index.stdout + by_index.stderr) == ran(by_number.stdout + by_number.stderr)
    assert ran(by_index.stdout + by_index.stderr)


def test_shard_and_jobs_together(tmp_path: Path) -> None:
    scripts = write_suite(tmp_path / "suite")
    alone = replay(scripts, "--shard", "1/2", cwd=tmp_path)
    spread = replay(scripts, "--shard", "1/2", "--jobs", "2", cwd=tmp_path)
    assert spread.returncode == alone.returncode
    assert re.sub(r"[0-9.]+ s wall", "", spread.stdout) == re.sub(
        r"[0-9.]+ s wall", "", alone.stdout
    )


def test_bad_shard_on_the_command_line_is_exit_2(tmp_path: Path) -> None:
    scripts = write_suite(tmp_path / "suite")
    for spec, env in (("4/3", {}), ("auto/3", {"JOB_COMPLETION_INDEX": ""})):
        proc = replay(scripts, "--shard", spec, cwd=tmp_path, env=env)
        assert proc.returncode == 2
        assert proc.stderr.startswith("estudio190f replay: --shard:")
        assert proc.stdout == ""


def test_merge_junit_from_the_command_line(tmp_path: Path) -> None:
    scripts = write_suite(tmp_path / "suite")
    for k in (1, 2):
        replay(scripts, "--shard", f"{k}/2", "--junit", str(tmp_path / f"{k}.xml"), cwd=tmp_path)
    proc = subprocess.run([sys.executable, "-m", "estudio190f.panel.jobs", "merge-junit",
                           str(tmp_path / "all.xml"), str(tmp_path / "1.xml"), str(tmp_path / "2.xml")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    root = ElementTree.parse(tmp_path / "all.xml").getroot()
    assert root.get("tests") == str(len(scripts)) and root.get("failures") == "1"
