"""`estudio190f decode FILE.pcap|FILE.wav [--out DIR]`: the fax calls in a packet capture, frame by
frame, and the documents they carried. A WAV recording (told apart by its content) goes to
`panel.decode_wav`, which demodulates it; the rest of this text is about captures.

    estudio190f decode calls.pcap --out pages/

Reads a libpcap or pcapng capture (ours, or one taken on a real network), finds T.38 over UDPTL
on any UDP port by its content, and pairs the two directions of each session into a call. Each
direction goes through the same UDPTL receiver and IFP decoding as the machine's own T.38
endpoint (packets lost in the capture are rebuilt from the redundancy of later ones; the T.38
version, 1998 or 2002 coding, is worked out per direction). It prints one line per T.30 frame:
time from the start of the capture, source -> destination, the frame name and what it says (as
the event log's session trace does; passwords are not shown). A run of ECM image frames (FCD)
gets one line per carrier; TCF and non-ECM pages get a line each.

Pages are taken as the receiver confirmed them (MCF, RTP or PIP after the page, or after each
ECM block), decoded per the DCS (coding, width, resolution) with the machine's codec, and each
document (pages up to EOP or EOM) is written as TIFF Class F under DIR as
call<N>-doc<M>.tif. Exit status: 0, 1 when the capture holds no T.38, 2 for a file that cannot
be read or is not a capture (one line on standard error).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from estudio190f.firmware.codec import CodecError
from estudio190f.firmware.page import Page
from estudio190f.firmware.t30.capabilities import DcsParams
from estudio190f.firmware.t30.frames import FrameError, parse_frame, parse_pps
from estudio190f.firmware.t30.image import decode_page
from estudio190f.firmware.t30.trace import describe, ranges
from estudio190f.firmware.tiff_f import write_tiff_f
from estudio190f.hw.clock import SECOND
from estudio190f.hw.modem import CARRIER_OFF, CARRIER_ON, DATA, FRAMES, Signal
from estudio190f.hw.pcap import CaptureError, UdpDatagram, read_capture, udp_datagram
from estudio190f.hw.t38 import T38Receiver
from estudio190f.hw.t38_ifp import IfpError, decode_ifp
from estudio190f.hw.udptl import (
    SEQ_JUMP,
    SEQ_MODULO,
    IfpArrived,
    IfpLost,
    UdptlError,
    UdptlReceiver,
    decode_udptl,
)

MIN_DATAGRAMS = 3  # a flow with fewer T.38-looking datagrams is not taken for T.38
MIN_SHARE = 0.9  # ... nor one where fewer than this share of its datagrams parse
REORDER_WINDOW = 2 * SECOND  # a capture is read whole: late copies may come from far behind
SESSION_GAP = 2 * SECOND  # a pause after which numbering that starts afresh is a new session
PAIRING_GAP = 60 * SECOND  # the far direction of a call starts before this long after the near ends
CONFIRMS = ("MCF", "RTP", "PIP")
REJECTS = ("RTN", "PIN")
POST_MESSAGE = ("MPS", "EOP", "EOM", "PRI-MPS", "PRI-EOP", "PRI-EOM")


class DecodeError(Exception):
    """Said in one line, exit status 2."""


# -- finding T.38 in the capture ----------------------------------------------------------------------


@dataclass
class Flow:
    """The datagrams from one UDP address and port to another."""

    source: str
    destination: str
    datagrams: list[UdpDatagram] = field(default_factory=list)


@dataclass
class Direction:
    """One direction of a call, decoded: the modem signals it carried, with their times."""

    flow: Flow
    version: int
    signals: list[tuple[int, Signal]]
    recovered: int
    lost: int
    frames_good: int


def looks_like_t38(payload: bytes) -> bool:
    try:
        packet = decode_udptl(payload)
        decode_ifp(packet.primary, 0)
    except (UdptlError, IfpError):
        try:
            decode_ifp(decode_udptl(payload).primary, 1)
        except (UdptlError, IfpError):
            return False
    return True


def t38_flows(datagrams: list[UdpDatagram]) -> list[Flow]:
    flows: dict[tuple[str, str], Flow] = {}
    for d in datagrams:
        key = (d.source, d.destination)
        flows.setdefault(key, Flow(*key)).datagrams.append(d)
    found = []
    for flow in flows.values():
        good = sum(looks_like_t38(d.payload) for d in flow.datagrams)
        if good >= MIN_DATAGRAMS and good >= MIN_SHARE * len(flow.datagrams):
            found += sessions(flow)
    return found


def sessions(flow: Flow) -> list[Flow]:
    """A flow cut where a new session began: after a pause of SESSION_GAP, numbering that does
    not carry on from the last datagram's (a new call starts its UDPTL numbering afresh, as
    our captures do for every call between the same two stations)."""
    out = [Flow(flow.source, flow.destination)]
    last_seq: int | None = None
    last_at = 0
    for d in flow.datagrams:
        try:
            seq: int | None = decode_udptl(d.payload).seq
        except UdptlError:
            seq = None
        if seq is not None and last_seq is not None and d.at - last_at >= SESSION_GAP:
            ahead = (seq - last_seq) % SEQ_MODULO
            if not 0 < ahead <= SEQ_JUMP:
                out.append(Flow(flow.source, flow.destination))
        out[-1].datagrams.append(d)
        last_at = d.at
        last_seq = seq if seq is not None else last_seq
    return [f for f in out if f.datagrams]


def decode_direction(flow: Flow, version: int) -> Direction:
    receiver = UdptlReceiver(REORDER_WINDOW, max_held=256)
    t38 = T38Receiver()
    signals: list[tuple[int, Signal]] = []
    lost = 0

    def take(events: list[IfpArrived | IfpLost], at: int) -> None:
        nonlocal lost
        for event in events:
            if isinstance(event, IfpLost):
                lost += event.count
                t38.lost(event.count)
                continue
            try:
                packet = decode_ifp(event.ifp, version)
            except IfpError:
                t38.lost(1)
                continue
            signals.extend((at, s) for s in t38.receive(packet))

    last = 0
    for d in flow.datagrams:
        last = d.at
        take(receiver.receive(d.payload, d.at), d.at)
    take(receiver.poll(last + REORDER_WINDOW), last)
    return Direction(flow, version, signals, receiver.stats.recovered, lost, t38.frames_good)


def best_direction(flow: Flow) -> Direction:
    """Version 0 (1998) and 2002 coding differ in how field types are coded; the version that
    gives more good HDLC frames is the one the far end spoke."""
    first = decode_direction(flow, 0)
    second = decode_direction(flow, 1)
    return second if second.frames_good > first.frames_good else first


# -- the T.30 call over both directions ---------------------------------------------------------------


@dataclass
class DocumentOut:
    pages: list[Page]
    coding: str


class CallReader:
    """Reads the T.30 session off the signals of both directions: frames, TCF, pages, documents."""

    def __init__(self, start: int, out: list[str]) -> None:
        self.start = start
        self.out = out
        self.documents: list[DocumentOut] = []
        self._pages: list[Page] = []
        self._coding = "mh"
        self._params: DcsParams | None = None
        self._tcf_next = False
        self._data = bytearray()  # non-ECM data of the carrier under way
        self._data_modulation = ""
        self._pending: Page | None = None  # a page waiting for its confirmation
        self._pending_ends_document = False
        self._post: str | None = None  # the last post-message command
        self._ecm_block: dict[int, bytes] = {}
        self._ecm_page = bytearray()
        self._ecm_pps: tuple[str | None, int] | None = None  # (post command, frames in block)
        self._fcd_run: list[tuple[int, bool]] = []
        self._fcd_at = 0
        self._fcd_route = ""

    def line(self, at: int, route: str, text: str) -> None:
        self.out.append(f"{(at - self.start) / SECOND:9.3f}  {route}  {text}")

    def signal(self, at: int, route: str, signal: Signal) -> None:
        if signal.kind == CARRIER_ON and signal.modulation != "V.21":
            self._data.clear()
            self._data_modulation = signal.modulation
        elif signal.kind == DATA:
            self._data += signal.data
        elif signal.kind == FRAMES:
            for frame, ok in signal.frames:
                self._frame(at, route, frame, ok)
        elif signal.kind == CARRIER_OFF:
            self._flush_fcd()
            if signal.modulation != "V.21" and self._data:
                self._image_data(at, route, bytes(self._data))
                self._data.clear()

    def finish(self) -> None:
        self._flush_fcd()
        if self._pending is not None:
            self.out.append("           the last page was never confirmed: not kept")
        self._close_document()

    # -- frames ------------------------------------------------------------------------------------
    def _frame(self, at: int, route: str, frame: bytes, ok: bool) -> None:
        try:
            parsed = parse_frame(frame)
        except FrameError:
            parsed = None
        name = parsed.name if parsed is not None else "?"
        if name == "FCD" and parsed is not None and parsed.fif:
            if not self._fcd_run:
                self._fcd_at, self._fcd_route = at, route
            self._fcd_run.append((parsed.fif[0], ok))
            if ok:
                self._ecm_block[parsed.fif[0]] = parsed.fif[1:]
            return
        self._flush_fcd()
        kind, detail = describe(frame)
        self.line(at, route, f"{kind:<4} {detail}" + ("" if ok else "  [FCS bad]"))
        if not ok or parsed is None:
            return
        if name == "DCS":
            try:
                self._params = DcsParams.decode(parsed.fif)
            except ValueError:
                self._params = None
            self._tcf_next = True
            self._ecm_block.clear()
        elif name in ("CFR", "FTT"):
            self._tcf_next = False
        elif name in POST_MESSAGE:
            self._post = name
        elif name == "PPS":
            try:
                post, _page, _block, frames = parse_pps(parsed.fif)
            except FrameError:
                return
            # After a PPR SpanDSP counts only the frames sent again: keep the block's count.
            known = self._ecm_pps[1] if self._ecm_pps is not None else 0
            self._ecm_pps = (post, max(frames, known))
        elif name in CONFIRMS:
            self._confirmed(at, route)
        elif name in REJECTS:
            if self._pending is not None:
                self.line(at, route, "     the page is refused: it will come again")
            self._pending = None
            self._ecm_pps = None
        elif name == "DCN":
            self._close_document()

    def _flush_fcd(self) -> None:
        if not self._fcd_run:
            return
        numbers = [n for n, _ in self._fcd_run]
        bad = sum(not ok for _, ok in self._fcd_run)
        text = f"FCD  {len(numbers)} image frames: {ranges(sorted(set(numbers)))}"
        self.line(self._fcd_at, self._fcd_route, text + (f", {bad} with a bad FCS" if bad else ""))
        self._fcd_run = []

    # -- pages -------------------------------------------------------------------------------------
    def _image_data(self, at: int, route: str, data: bytes) -> None:
        mod = self._data_modulation.replace("/", " ")
        if self._tcf_next:
            self._tcf_next = False
            ones = sum(bin(b).count("1") for b in data)
            self.line(at, route, f"TCF  {len(data)} octets at {mod}, {ones} bits set")
            return
        params = self._params
        if params is None:
            self.line(at, route, f"page data of {len(data)} octets at {mod}, but no DCS seen")
            return
        page = self._decode(data, params)
        text = f"page {len(self._pages) + 1}: {len(data)} octets at {mod}"
        self.line(at, route, text + (f", {page.lines} lines" if page else ", nothing decodable"))
        self._pending = page
        self._coding = params.coding

    def _decode(self, data: bytes, params: DcsParams) -> Page | None:
        try:
            page, _quality = decode_page(data, params)
        except CodecError:
            return None
        return page

    def _confirmed(self, at: int, route: str) -> None:
        params = self._params
        if self._ecm_pps is not None and params is not None and params.ecm:
            post, frames = self._ecm_pps
            self._ecm_pps = None
            missing = [n for n in range(frames) if n not in self._ecm_block]
            if missing:
                self.line(at, route, "     frames " + ranges(missing) + " of the block are missing")
            self._ecm_page += b"".join(self._ecm_block.get(n, b"") for n in range(frames))
            self._ecm_block.clear()
            if post is None:
                return  # more blocks of this page follow
            page = self._decode(bytes(self._ecm_page), params)
            self._ecm_page.clear()
            self._coding = params.coding
            self._keep(page, post, at, route)
            return
        if self._pending is not None:
            page, self._pending = self._pending, None
            self._keep(page, self._post, at, route)

    def _keep(self, page: Page | None, post: str | None, at: int, route: str) -> None:
        if page is None:
            self.line(at, route, "     the confirmed page could not be decoded")
        else:
            self._pages.append(page)
        if post is not None and post.endswith(("EOP", "EOM")):
            self._close_document()

    def _close_document(self) -> None:
        if self._pages:
            self.documents.append(DocumentOut(self._pages, self._coding))
        self._pages = []


# -- the command ---------------------------------------------------------------------------------------


def decode_capture(data: bytes) -> tuple[list[str], list[list[DocumentOut]]]:
    """The lines to print and, per call, the documents received; CaptureError for a bad file."""
    packets = read_capture(data)
    datagrams = [d for d in (udp_datagram(p) for p in packets) if d is not None]
    flows = t38_flows(datagrams)
    if not flows:
        return [], []
    start = min(p.at for p in packets)
    directions = [best_direction(f) for f in flows]
    calls: list[list[Direction]] = []
    for d in sorted(directions, key=lambda d: d.flow.datagrams[0].at):
        first = d.flow.datagrams[0].at
        partner = next(
            (c for c in calls if len(c) == 1 and c[0].flow.source == d.flow.destination
             and c[0].flow.destination == d.flow.source
             and first <= c[0].flow.datagrams[-1].at + PAIRING_GAP),
            None,
        )  # fmt: skip
        if partner is not None:
            partner.append(d)
        else:
            calls.append([d])
    lines: list[str] = []
    documents: list[list[DocumentOut]] = []
    for number, call in enumerate(calls, start=1):
        ends = " <-> ".join(sorted({call[0].flow.source, call[0].flow.destination}))
        versions = "/".join(str(d.version) for d in call)
        sent = sum(len(d.flow.datagrams) for d in call)
        recovered = sum(d.recovered for d in call)
        lost = sum(d.lost for d in call)
        lines.append(
            f"call {number}: {ends}, T.38 version {versions}, {sent} datagrams, "
            f"{recovered} packets rebuilt from redundancy, {lost} lost"
        )
        reader = CallReader(start, lines)
        merged = sorted(
            (at, i, n, d.flow, s)
            for i, d in enumerate(call)
            for n, (at, s) in enumerate(d.signals)
        )  # fmt: skip
        for at, _i, _n, flow, signal in merged:
            reader.signal(at, f"{flow.source} -> {flow.destination}", signal)
        reader.finish()
        documents.append(reader.documents)
    return lines, documents


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "capture", type=Path, metavar="FILE", help="a .pcap or .pcapng capture, or a .wav recording"
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="write the documents received there (TIFF-F)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        if _is_recording(args.capture):
            from .decode_wav import decode_wav  # the modem chip, SpanDSP: only for recordings

            return decode_wav(args.capture, args.out)
        return _run(args)
    except (DecodeError, CaptureError) as exc:
        print(f"estudio190f decode: {args.capture}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = exc.filename or args.capture
        print(f"estudio190f decode: {where}: {(exc.strerror or str(exc)).lower()}", file=sys.stderr)
        return 2


def _is_recording(path: Path) -> bool:
    """A WAV file, by its first bytes (not its name)."""
    from .decode_wav import is_wav

    with open(path, "rb") as f:
        return is_wav(f.read(12))


def _run(args: argparse.Namespace) -> int:
    data = args.capture.read_bytes()
    lines, calls = decode_capture(data)
    if not lines:
        print(f"no T.38 (UDPTL) traffic in {args.capture}")
        return 1
    for line in lines:
        print(line)
    for number, documents in enumerate(calls, start=1):
        for index, document in enumerate(documents, start=1):
            pages = len(document.pages)
            if args.out is None:
                print(f"call {number}: document {index}, {pages} page(s) (--out DIR to write it)")
                continue
            args.out.mkdir(parents=True, exist_ok=True)
            path = args.out / f"call{number}-doc{index}.tif"
            try:
                tiff = write_tiff_f(document.pages, document.coding)
            except CodecError as exc:
                raise DecodeError(f"document {index} of call {number}: {exc}") from None
            temporary = path.with_name(path.name + ".part")
            temporary.write_bytes(tiff)
            temporary.replace(path)
            print(f"call {number}: document {index}, {pages} page(s) -> {path}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m estudio190f.panel.decode_tool FILE [--out DIR]` (as `estudio190f decode`)."""
    parser = argparse.ArgumentParser(prog="estudio190f decode")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
