"""`estudio190f conformance`: SpanDSP's TSB85 T.30 conformance scripts against the machine.

    estudio190f conformance --suite FILE [--only NAME ...] [--verbose] [--seed N]

Each test of the suite (conformance_script.py reads it) is played by `conformance_run` against a
fresh simulated e-STUDIO190F with a tester on its own line (conformance_tester.py).
Output: one line per test (pass; FAIL with the first differing step and, for a known difference,
why, with the clause; n/a with the reason), then `TSB85: P passed, F failed, N not applicable of
T`. Exit status 0 when no test failed, 1 when one did, 2 when the suite cannot be read or a name
given with --only is not in it. docs/conformance.md has the whole table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .conformance_run import ConformanceResult
from .conformance_run import run_test as play
from .conformance_script import Script, SuiteError, parse_suite

# Tests this runner does not play, with the reason. None: every script exercises something the
# machine offers.
NOT_APPLICABLE: dict[str, str] = {}

# Why the machine differs where a test fails: printed after the failing step. Each is a place
# where the script asks for something T.30 does not (docs/conformance.md gives the clauses).
KNOWN_DIFFERENCES: dict[str, str] = {
    "MRGX01": "T.30's T1 (35 s) is how long the called station goes on trying to identify the "
    "caller: it repeats DIS every T4 until T1 runs out, then DCN (T1_EXPIRED); the script wants "
    "DCN after the third DIS (an older SpanDSP's retry count)",
    "OTEN03": "T.30 fixes T5 at 60 s +-5 and a V.21 preamble at 1 s +-15 %: at those values a "
    "round of RNR and RR takes 3.03 s and 20 RR fit in T5; the script's 23 need T5 at its "
    "65 s maximum and the preamble at its 0.85 s minimum at once",
    "MTGN26": "after RTN the sender retrains and sends the refused page again (T.30's RTN: "
    "further receptions are possible after retraining); after EOM it waits for the new DIS and "
    "sends it there, so the first page ends with EOM again, where the script wants the next "
    "document with EOP",
    "MTGN28": "after RTN to EOP the sender retrains one step slower and sends the refused page "
    "again (T.30's RTN: further receptions are possible after retraining), up to 3 sends; the "
    "script wants DCN at once and the call called OK",
}


def run_test(script: Script, *, seed: int = 0, verbose: bool = False) -> ConformanceResult:
    reason = NOT_APPLICABLE.get(script.name)
    if reason is not None:
        return ConformanceResult(script.name, "n/a", reason)
    return play(script, seed=seed, verbose=verbose)


def report_line(result: ConformanceResult) -> str:
    """`NAME pass`, `NAME FAIL <where>: <what differed> -- why: <the clause>`, `NAME n/a ...`."""
    word = {"pass": "pass", "fail": "FAIL", "n/a": "n/a"}[result.verdict]
    text = f"{result.name:<10} {word}"
    if result.reason:
        text = f"{text}  {result.reason}"
    known = KNOWN_DIFFERENCES.get(result.name) if result.verdict == "fail" else None
    return f"{text} -- why: {known}" if known else text


def summary(results: Sequence[ConformanceResult]) -> str:
    passed = sum(r.verdict == "pass" for r in results)
    failed = sum(r.verdict == "fail" for r in results)
    missing = sum(r.verdict == "n/a" for r in results)
    return f"TSB85: {passed} passed, {failed} failed, {missing} not applicable of {len(results)}"


def select(scripts: Sequence[Script], only: Sequence[str] | None) -> list[Script]:
    if not only:
        return list(scripts)
    names = {s.name for s in scripts}
    unknown = [n for n in only if n not in names]
    if unknown:
        raise SuiteError(f"no test named {', '.join(unknown)} in the suite")
    wanted = set(only)
    return [s for s in scripts if s.name in wanted]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", type=Path, required=True, help="TSB85 suite (tsb85.xml)")
    parser.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME", help="run only these tests"
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print every step with its virtual time"
    )


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        scripts = select(parse_suite(args.suite), args.only)
    except SuiteError as exc:
        print(f"conformance: {exc}", file=sys.stderr)
        return 2
    results = []
    for script in scripts:
        result = run_test(script, seed=args.seed, verbose=args.verbose)
        results.append(result)
        print(report_line(result), flush=True)
    wall = time.perf_counter() - started
    print(f"({len(results)} tests in {wall:.1f} s of wall time)", file=sys.stderr)
    print(summary(results), flush=True)
    return 1 if any(r.verdict == "fail" for r in results) else 0


__all__ = [
    "KNOWN_DIFFERENCES",
    "NOT_APPLICABLE",
    "add_arguments",
    "report_line",
    "run",
    "run_test",
    "select",
    "summary",
]
