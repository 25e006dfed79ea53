"""Scripts spread over processes and hosts: `replay --jobs N` and `replay --shard K/N`.

- `Shard.parse("K/N")` (K from 1) or `Shard.parse("auto/N")` (K is Kubernetes'
  `JOB_COMPLETION_INDEX`, which counts from 0, plus one) names the K-th of N slices of a suite;
  `Shard.select(paths)` gives the scripts of that slice. The slices are disjoint, cover the suite,
  do not depend on the order the scripts were given in (a script's place in the sorted list of
  paths decides, dealt round: script i of the sorted list goes to slice i mod N), and differ in
  size by one script at most.
- `run_in_processes(fn, calls, jobs)` calls `fn(*call)` for each call in `jobs` worker processes
  (spawned, so nothing of this process but the arguments reaches them) and yields the outcomes in
  the order of `calls`, each as soon as it and every one before it are done. What a call prints
  on standard output and standard error is captured in the worker and written here, in order,
  just before its outcome is yielded: the output reads as if the calls ran one after another in
  this process. A call whose worker died (a crash, a kill) comes back as `Lost`; Ctrl-C stops
  the workers and raises KeyboardInterrupt here.
- `merge_junit(parts, target)` joins JUnit files (from shards run on several hosts) into one, and
  `python -m estudio190f.panel.jobs merge-junit OUT IN...` does it from a shell.

docs/scale.md says how a CI matrix or a Kubernetes Indexed Job uses them.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TextIO, TypeVar
from xml.etree import ElementTree

T = TypeVar("T")

INDEX_VARIABLE = "JOB_COMPLETION_INDEX"  # set by Kubernetes in each pod of an Indexed Job
STDOUT, STDERR = 1, 2


# -- shards ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """The `index`-th (from 1) of `count` slices of a suite."""

    index: int
    count: int

    @classmethod
    def parse(cls, text: str, environ: Mapping[str, str] | None = None) -> Shard:
        """`K/N` or `auto/N`; ValueError saying what is wrong."""
        environ = os.environ if environ is None else environ
        k_text, slash, n_text = text.partition("/")
        if not slash or not n_text.isdigit() or int(n_text) < 1:
            raise ValueError(f"a shard is K/N or auto/N with N a whole number from 1, not {text!r}")
        count = int(n_text)
        if k_text == "auto":
            found = environ.get(INDEX_VARIABLE, "")
            if not found.isdigit():
                raise ValueError(
                    f"auto/{count} takes the shard from {INDEX_VARIABLE} (a Kubernetes Indexed "
                    f"Job sets it, from 0), which is {'not set' if not found else repr(found)}"
                )
            index = int(found) + 1
        elif k_text.isdigit():
            index = int(k_text)
        else:
            raise ValueError(f"a shard is K/N or auto/N with K a whole number from 1, not {text!r}")
        if not 1 <= index <= count:
            raise ValueError(f"shard {index} of {count}: K counts from 1 to N")
        return cls(index, count)

    def select(self, paths: Sequence[Path]) -> list[int]:
        """The positions in `paths` of this slice's scripts, in the order given."""
        ranked = sorted(range(len(paths)), key=lambda i: (str(paths[i]), i))
        mine = {i for rank, i in enumerate(ranked) if rank % self.count == self.index - 1}
        return [i for i in range(len(paths)) if i in mine]

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def cpu_count() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


# -- worker processes --------------------------------------------------------------------------


@dataclass
class Lost:
    """A call that did not come back: its worker process died (a crash, a kill)."""

    reason: str


@dataclass
class _Done:
    output: list[tuple[int, str]]  # (STDOUT or STDERR, text) in the order written
    value: Any = None
    error: BaseException | None = None  # what the call raised, if it did


class _Capture:
    """What a call writes to one stream, kept with the other stream's in one ordered list."""

    def __init__(self, chunks: list[tuple[int, str]], stream: int) -> None:
        self.chunks, self.stream = chunks, stream

    def write(self, text: str) -> int:
        if text:
            self.chunks.append((self.stream, text))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _serve(conn: Connection) -> None:
    """A worker: calls from the parent, one at a time, until told to stop (None) or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the workers
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        index, fn, args = item
        chunks: list[tuple[int, str]] = []
        done = _Done(chunks)
        try:
            with redirect_stdout(_Capture(chunks, STDOUT)), redirect_stderr(_Capture(chunks, STDERR)):  # type: ignore[type-var]  # fmt: skip
                done.value = fn(*args)
        except BaseException as exc:  # handed to the parent, which raises it in its turn
            done.error = exc
        try:
            conn.send((index, done))
        except Exception as exc:  # the value or the error does not pickle
            conn.send((index, _Done(chunks, error=RuntimeError(f"cannot send back: {exc!r}"))))


class _Worker:
    """A worker process and the call it is on."""

    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child,), daemon=True)
        self.process.start()
        child.close()
        self.index: int | None = None

    def give(self, index: int, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.index = index
        self.conn.send((index, fn, args))

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(5)
        self.conn.close()


def run_in_processes(
    fn: Callable[..., T], calls: Sequence[tuple[Any, ...]], jobs: int
) -> Iterator[T | Lost]:
    """`fn(*call)` for each call, in `jobs` processes; outcomes in order (see the module doc).
    `fn` and the calls' arguments must pickle (`fn` a module-level function). An exception `fn`
    raises is raised here when its turn comes."""
    context = multiprocessing.get_context("spawn")
    todo = list(range(len(calls)))[::-1]  # popped from the end: in order
    finished: dict[int, _Done | Lost] = {}
    workers = [_Worker(context) for _ in range(max(1, min(jobs, len(calls))))]
    deaths = [0]
    try:
        for worker in workers:
            if todo:
                index = todo.pop()
                worker.give(index, fn, calls[index])
        for turn in range(len(calls)):
            while turn not in finished:
                _collect(workers, finished, todo, fn, calls, context, deaths)
            outcome = finished.pop(turn)
            if isinstance(outcome, Lost):
                yield outcome
                continue
            _write_output(outcome.output, sys.stdout, sys.stderr)
            if outcome.error is not None:
                raise outcome.error
            yield outcome.value
    except BaseException:
        for worker in workers:
            worker.kill()
        raise
    for worker in workers:
        worker.stop()
    for worker in workers:
        worker.process.join(5)
        worker.kill()


def _collect(
    workers: list[_Worker], finished: dict[int, _Done | Lost], todo: list[int],
    fn: Callable[..., Any], calls: Sequence[tuple[Any, ...]], context: Any, deaths: list[int],
) -> None:  # fmt: skip
    """Wait for a busy worker to finish (or die); give it (or its stand-in) the next call.
    `deaths` counts the workers that died since a call last came back."""
    busy = [w for w in workers if w.index is not None]
    ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
    for slot, worker in enumerate(workers):
        if worker.index is None or (
            worker.conn not in ready and worker.process.sentinel not in ready
        ):
            continue
        if worker.conn.poll():
            try:
                index, done = worker.conn.recv()
            except (EOFError, OSError):
                index, done = worker.index, None
        else:
            index, done = worker.index, None
        if done is None:  # the process is gone: its call is lost, a new worker takes its place
            worker.process.join(5)
            code = worker.process.exitcode
            finished[index] = Lost(f"its worker process died (exit status {code})")
            worker.kill()
            deaths[0] += 1
            if deaths[0] >= max(4, 2 * len(workers)):
                # Worker after worker dies with nothing coming back in between (an interpreter
                # that cannot start, a call that kills every worker): give up on the rest.
                for rest in todo:
                    finished[rest] = Lost(f"worker processes keep dying (exit status {code})")
                todo.clear()
            worker = workers[slot] = _Worker(context)
        else:
            finished[index] = done
            deaths[0] = 0
        worker.index = None
        if todo:
            next_index = todo.pop()
            worker.give(next_index, fn, calls[next_index])


def _write_output(chunks: list[tuple[int, str]], stdout: TextIO, stderr: TextIO) -> None:
    for stream, text in chunks:
        target = stdout if stream == STDOUT else stderr
        target.write(text)
        target.flush()


# -- merging the results of several runs -------------------------------------------------------


def merge_junit(parts: Sequence[Path], target: Path) -> None:
    """One JUnit file with every test case of `parts` (each a `<testsuite>` or `<testsuites>`), in
    the order of the parts: the counts and the time are the sums."""
    cases: list[ElementTree.Element] = []
    name = "estudio190f replay"
    for part in parts:
        root = ElementTree.parse(part).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            name = suite.get("name", name)
            cases.extend(suite.findall("testcase"))
    merged = ElementTree.Element("testsuite", name=name)
    merged.set("tests", str(len(cases)))
    merged.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    merged.set("errors", str(sum(c.find("error") is not None for c in cases)))
    merged.set("time", f"{sum(float(c.get('time', '0')) for c in cases):.3f}")
    merged.extend(cases)
    ElementTree.indent(merged)
    target.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(merged).write(target, encoding="UTF-8", xml_declaration=True)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 3 or argv[0] != "merge-junit":
        print(
            "usage: python -m estudio190f.panel.jobs merge-junit OUT.xml IN.xml...", file=sys.stderr
        )
        return 2
    try:
        merge_junit([Path(p) for p in argv[2:]], Path(argv[1]))
    except (OSError, ElementTree.ParseError) as exc:
        print(f"merge-junit: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
