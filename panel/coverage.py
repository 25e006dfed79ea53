"""Coverage figures: what key scripts visited of what the machine has, area by area, as data;
merged across runs, summed up, shown in HTML (docs/coverage.md).

A `Coverage` is a list of `Area`s (firmware states, transitions, screens, FUNCTION menu items,
T.30 frames and paths, faults, SMTP replies ...). Each area lists what exists (`known`, from the
firmware's own tables when it was recorded) and how often each thing was met (`hits`; a thing
met that no table lists is kept too, as `extra`). `panel.coverage_recorder` fills one while
machines run; this module reads, writes, merges and reports them, without importing the machine:
`estudio190f coverage report FILE... [--html DIR]` and `merge(files)`, which the sharded runs'
coverage goes through.

File format (JSON, one object): `{"format": "estudio190f-coverage", "version": 1, "runs": N,
"areas": [{"name", "what", "known": [...], "hits": {item: count}}, ...]}`.
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

FORMAT = "estudio190f-coverage"
VERSION = 1
FILE_LIMIT = 64 << 20  # bytes of one coverage file


class CoverageError(Exception):
    """A coverage file that cannot be read: one line saying why."""


@dataclass
class Area:
    """One area: what exists and what was met, with counts."""

    name: str
    what: str  # what one item is, for the reports
    known: list[str]
    hits: dict[str, int] = field(default_factory=dict)

    def hit(self, item: str, count: int = 1) -> None:
        self.hits[item] = self.hits.get(item, 0) + count

    @property
    def visited(self) -> list[str]:
        return [k for k in self.known if self.hits.get(k)]

    @property
    def missed(self) -> list[str]:
        return [k for k in self.known if not self.hits.get(k)]

    @property
    def extra(self) -> list[str]:
        """Met, but in no table (a frame of no known type, an SMTP reply of no known class)."""
        known = set(self.known)
        return sorted(k for k in self.hits if k not in known)

    @property
    def percent(self) -> int:
        """Visited of known, in whole percent rounded down (100 only when all were visited)."""
        return 100 * len(self.visited) // len(self.known) if self.known else 100

    def summary(self) -> str:
        """`transitions 143/187 76%`"""
        return f"{self.name} {len(self.visited)}/{len(self.known)} {self.percent}%"

    def merge(self, other: Area) -> None:
        seen = set(self.known)
        self.known += [k for k in other.known if k not in seen]
        for item, count in other.hits.items():
            self.hit(item, count)


@dataclass
class Coverage:
    areas: dict[str, Area] = field(default_factory=dict)
    runs: int = 0  # scripts (replay) or tests (pytest) recorded

    def area(self, name: str) -> Area:
        return self.areas[name]

    def summary_lines(self) -> list[str]:
        return [a.summary() for a in self.areas.values()]

    def merge(self, other: Coverage) -> None:
        """Add `other` to this one: what exists is the union, counts add up."""
        for name, area in other.areas.items():
            mine = self.areas.get(name)
            if mine is None:
                self.areas[name] = Area(area.name, area.what, list(area.known), dict(area.hits))
            else:
                mine.merge(area)
        self.runs += other.runs

    # -- JSON ----------------------------------------------------------------------------------------
    def to_json(self) -> str:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "runs": self.runs,
            "areas": [
                {"name": a.name, "what": a.what, "known": a.known,
                 "hits": dict(sorted(a.hits.items()))}
                for a in self.areas.values()
            ],
        }  # fmt: skip
        return json.dumps(data, indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str = "coverage") -> Coverage:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise CoverageError(f"{source}: not JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CoverageError(f"{source}: not an estudio190f coverage file")
        if data.get("version") != VERSION:
            raise CoverageError(
                f"{source}: coverage format version {data.get('version')!r}; this estudio190f "
                f"reads version {VERSION}"
            )
        coverage = cls(runs=_count(data.get("runs", 0), source))
        try:
            for raw in data["areas"]:
                name, what = str(raw["name"]), str(raw.get("what", ""))
                known = [str(k) for k in raw["known"]]
                hits = {str(k): _count(v, source) for k, v in dict(raw["hits"]).items()}
                coverage.areas[name] = Area(name, what, known, hits)
        except (KeyError, TypeError, ValueError):
            raise CoverageError(f"{source}: its areas are damaged") from None
        return coverage

    def write(self, path: Path) -> None:
        """Written whole (a temporary name beside it, then renamed)."""
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(self.to_json(), encoding="utf-8")
        tmp.replace(path)


def _count(value: object, source: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CoverageError(f"{source}: a count that is not a whole number")
    return value


def read(path: Path) -> Coverage:
    """A coverage file; CoverageError saying why it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(FILE_LIMIT + 1)
    except OSError as exc:
        raise CoverageError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    if len(data) > FILE_LIMIT:
        raise CoverageError(f"{path}: over the size limit of {FILE_LIMIT:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CoverageError(f"{path}: not UTF-8 text") from None
    return Coverage.from_json(text, str(path))


def merge(files: Iterable[Path]) -> Coverage:
    """The coverage of several runs (shards, jobs, suites) as if recorded in one."""
    total = Coverage()
    for path in files:
        total.merge(read(Path(path)))
    return total


# -- HTML --------------------------------------------------------------------------------------------

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { padding: 2px 10px; text-align: left; border-bottom: 1px solid #ddd; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
.bar { display: inline-block; height: 0.8em; background: #4a4; }
.missed { background: #fdd; }
.extra { color: #777; }
"""


def write_html(coverage: Coverage, directory: Path) -> Path:
    """DIR/index.html: the summary, then each area's items, those never visited marked."""
    directory.mkdir(parents=True, exist_ok=True)
    esc = html.escape
    rows = []
    for a in coverage.areas.values():
        rows.append(
            f'<tr><td><a href="#{esc(a.name)}">{esc(a.name)}</a></td>'
            f'<td class="n">{len(a.visited)}/{len(a.known)}</td><td class="n">{a.percent}%</td>'
            f'<td><span class="bar" style="width:{a.percent * 2}px"></span></td></tr>'
        )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<title>estudio190f coverage</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Coverage</h1><p>{coverage.runs} runs. Items never visited are marked.</p>",
        "<table><tr><th>area</th><th>visited</th><th></th><th></th></tr>",
        *rows,
        "</table>",
    ]
    for a in coverage.areas.values():
        parts.append(f'<h2 id="{esc(a.name)}">{esc(a.name)}: {esc(a.summary())}</h2>')
        parts.append(f"<p>{esc(a.what)}</p><table><tr><th>item</th><th>times met</th></tr>")
        for item in a.known:
            count = a.hits.get(item, 0)
            css = "" if count else ' class="missed"'
            parts.append(f'<tr{css}><td>{esc(item)}</td><td class="n">{count}</td></tr>')
        for item in a.extra:
            parts.append(
                f'<tr class="extra"><td>{esc(item)} (in no table)</td>'
                f'<td class="n">{a.hits[item]}</td></tr>'
            )
        parts.append("</table>")
    parts.append("</body></html>\n")
    path = directory / "index.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


# -- `estudio190f coverage report` -------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="coverage_action", metavar="ACTION")
    actions.required = True
    report = actions.add_parser(
        "report", help="merge coverage files and show what was never visited"
    )
    report.add_argument("files", nargs="+", type=Path, metavar="FILE")
    report.add_argument("--html", type=Path, metavar="DIR", help="write DIR/index.html")
    report.add_argument("--out", type=Path, metavar="FILE", help="write the merged coverage")
    report.add_argument(
        "--summary", action="store_true", help="the summary lines only, not what was missed"
    )


def run(args: argparse.Namespace) -> int:
    try:
        coverage = merge(args.files)
    except CoverageError as exc:
        print(f"estudio190f coverage: {exc}", file=sys.stderr)
        return 2
    for line in coverage.summary_lines():
        print(line)
    if not args.summary:
        for a in coverage.areas.values():
            if a.missed:
                print(f"never visited in {a.name}:")
                print("\n".join(f"  {item}" for item in a.missed))
    if args.out is not None:
        coverage.write(args.out)
    if args.html is not None:
        path = write_html(coverage, args.html)
        print(f"html {path}")
    return 0


__all__ = ["Area", "Coverage", "CoverageError", "merge", "read", "write_html"]
