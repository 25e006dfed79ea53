"""Every setting of the machine, declared once.

One declaration per setting feeds the FUNCTION menu, the settings file (TOML) loader, NVRAM
storage, the function-list report and docs/settings.md (scripts/make_settings_doc.py), so they
cannot drift apart. Values are stored in NVRAM, namespace "settings", under the dotted key.
"""

from __future__ import annotations

import ipaddress
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from estudio190f.hw.listeners import Listeners
from estudio190f.hw.nvram import Nvram
from estudio190f.hw.rtc import RtcRange, check_date

NS = "settings"
Value = str | int  # a setting's value: text, digits, a choice, or a whole number

DESIGN = "DESIGN.md 5 (factory defaults)"
SISTER = "e-STUDIO170F (sister model) manual"
MANUAL = "e-STUDIO190F service manual"
CHOICE = "not found in the sources; project choice"
RFC5321 = "RFC 5321 4.5.3.2 / RFC 1123 5.3.2"
T38_GATEWAYS = "ITU-T T.38 9.1 (redundancy); depths as common gateways use"
T38_LOSS = ("0", "0.01", "0.02", "0.05", "0.1", "0.2")


@dataclass(frozen=True)
class Setting:
    key: str  # dotted: "<table>.<name>" as in the settings file
    kind: str  # choice | int | digits | text | email | host | secret | path
    default: Value
    label: str  # as the LCD shows it (<= 20 characters)
    source: str
    doc: str = ""
    choices: tuple[str, ...] = ()
    lo: int = 0
    hi: int = 0
    max_len: int = 0
    unit: str = ""
    required: bool = False  # an empty value is refused

    @property
    def secret(self) -> bool:
        return self.kind == "secret"

    def check(self, value: object) -> Value:
        """The value in canonical form, or ValueError saying why it is refused."""
        if self.kind == "choice":
            text = str(value).lower() if not isinstance(value, bool) else ("on" if value else "off")
            if text not in self.choices:
                raise ValueError(
                    f"{self.key} must be one of {', '.join(self.choices)}, not {value!r}"
                )
            return text
        if self.kind == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, str) and value.strip().isdigit():
                    value = int(value.strip())
                else:
                    raise ValueError(f"{self.key} must be a whole number, not {value!r}")
            if not self.lo <= value <= self.hi:
                raise ValueError(f"{self.key} must be {self.lo} to {self.hi}, not {value}")
            return value
        if not isinstance(value, str):
            raise ValueError(f"{self.key} must be a string, not {value!r}")
        if self.max_len and len(value) > self.max_len:
            raise ValueError(f"{self.key} is at most {self.max_len} characters")
        if self.required and not value:
            raise ValueError(f"{self.key} cannot be empty")
        if self.kind == "digits" and not re.fullmatch(r"[0-9*#]*", value):
            raise ValueError(f"{self.key} takes digits, * and # only, not {value!r}")
        if self.kind == "email" and value and not EMAIL_RE.fullmatch(value):
            raise ValueError(f"{self.key} is not an e-mail address: {value!r}")
        if self.kind == "host" and value:
            if value.startswith("["):
                raise ValueError(
                    f"{self.key}: write an IPv6 address without brackets ({value.strip('[]')})"
                )
            if not (HOST_RE.fullmatch(value) or _ipv6(value)):
                raise ValueError(f"{self.key} is not a host name or address: {value!r}")
        if self.kind in ("text", "secret") and not all(32 <= ord(c) < 127 for c in value):
            raise ValueError(f"{self.key} takes printable ASCII characters only")
        return value

    def show(self, value: Value | None) -> str:
        """The value as the LCD, reports and the console may show it (secrets masked)."""
        if self.secret:
            return "*" * len(str(value)) if value else ""
        return str(value).upper() if self.kind == "choice" else str(value)


EMAIL_RE = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")


def _ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def _choice(
    key: str, default: str, label: str, choices: tuple[str, ...], source: str, doc: str
) -> Setting:
    return Setting(key, "choice", default, label, source, doc, choices=choices)


def _int(
    key: str, default: int, label: str, lo: int, hi: int, source: str, doc: str, unit: str = ""
) -> Setting:
    return Setting(key, "int", default, label, source, doc, lo=lo, hi=hi, unit=unit)


def _str(
    key: str,
    kind: str,
    default: str,
    label: str,
    max_len: int,
    source: str,
    doc: str,
    required: bool = False,
) -> Setting:
    return Setting(key, kind, default, label, source, doc, max_len=max_len, required=required)


ON_OFF = ("on", "off")

SETTINGS: tuple[Setting, ...] = (
    _str("machine.number", "digits", "5551234", "FAX NUMBER", 20,
         "DESIGN.md 3.4 example", "This machine's number on the virtual line; also the header and TSI/CSI number.",
         required=True),
    _str("machine.station_name", "text", "TOSHIBA", "STATION NAME", 20,
         SISTER + " (header example)", "Name printed in the transmit header and sent as the station name."),
    _str("machine.number2", "digits", "5551235", "LINE 2 NUMBER", 20, CHOICE + " (the number after machine.number's)",
         "The 2nd G3 option's number on the virtual line (and in a T.38 or IAX2 dial plan); its calls use this machine's "
         "TSI/CSI and header like port 1's. Used only while `options.second_line` is on."),
    _choice("receive.mode", "auto", "RECEIVE MODE", ("fax", "tel", "auto"), DESIGN,
            "AUTO: answer after the ring count, receive a fax (CNG) or ring on for a voice call. "
            "FAX: answer every call as a fax. TEL: ring until the operator presses START."),
    _int("receive.rings", 2, "RING COUNT", 1, 9, DESIGN, "Rings before the machine answers (AUTO and FAX)."),
    _choice("scan.resolution", "standard", "RESOLUTION", ("standard", "fine", "superfine", "photo"), DESIGN,
            "Default resolution for fax, copy and e-mail; the RESOLUTION key changes it for one job."),
    _choice("scan.contrast", "normal", "CONTRAST", ("light", "normal", "dark"), DESIGN,
            "Default contrast; the CONTRAST key changes it for one job."),
    _choice("transmit.header", "outside", "TX HEADER", ("inside", "outside", "off"), DESIGN + "; " + SISTER,
            "Transmit header line: OUTSIDE adds it above the page, INSIDE overwrites the page's top, OFF sends none."),
    _choice("transmit.mode", "memory", "TX MODE", ("memory", "direct"), DESIGN,
            "MEMORY: scan every page to memory first (file number F-nnn). DIRECT: send while scanning."),
    _choice("transmit.report", "error", "TX REPORT", ("always", "error", "off"), DESIGN,
            "When a transmission report is printed after a send."),
    _choice("transmit.port", "auto", "TX PORT", ("auto", "1", "2"), CHOICE,
            "With the 2nd G3 option: AUTO sends on the first free port (port 1 first; a broadcast uses both), 1 or 2 "
            "only on that port. Receiving, polling and TEL mode work on both ports whatever this says. Without the "
            "option every call uses port 1."),
    _int("transmit.redial_tries", 3, "REDIAL TRIES", 0, 9, DESIGN, "Redials after busy or no answer."),
    _int("transmit.redial_interval", 2, "REDIAL INTERVAL", 1, 9, DESIGN, "Minutes between redials.", "min"),
    _choice("modem.top_speed", "14400", "MODEM SPEED", ("14400", "12000", "9600", "7200", "4800", "2400"), DESIGN,
            "Highest signalling rate offered or tried (V.17 14400 down to V.27ter 2400)."),
    _choice("modem.ecm", "on", "ECM", ON_OFF, DESIGN, "Error correction mode (T.30 Annex A)."),
    _choice("modem.coding", "mmr", "CODING", ("mh", "mr", "mmr"), DESIGN,
            "Best coding offered: MMR implies MR and MH; MMR is only used with ECM."),
    _choice("paper.size", "letter", "PAPER SIZE", ("letter", "a4", "legal"), DESIGN, "Cassette paper size."),
    _int("paper.capacity", 250, "CASSETTE SIZE", 1, 500, DESIGN, "Sheets the cassette holds.", "sheets"),
    _choice("paper.long_page", "reduce", "LONG PAGE", ("reduce", "continue"), DESIGN,
            "A received page longer than the sheet: REDUCE to fit, or CONTINUE on a second sheet."),
    _int("feeder.capacity", 30, "FEEDER SIZE", 1, 50, DESIGN, "Sheets the document feeder holds.", "sheets"),
    _int("memory.size_kb", 4096, "MEMORY SIZE", 256, 65536, CHOICE,
         "Image memory for documents waiting to be sent or printed, in KiB.", "KiB"),
    _str("smtp.host", "host", "127.0.0.1", "SMTP SERVER", 63, CHOICE + " (loopback relay)", "SMTP relay host."),
    _int("smtp.port", 25, "SMTP PORT", 1, 65535, "RFC 5321", "SMTP relay port (the embedded relay of `run` sets its own)."),
    _choice("smtp.security", "none", "SECURITY", ("none", "starttls", "tls"), DESIGN,
            "NONE: plain SMTP. STARTTLS: upgrade after EHLO. TLS: implicit TLS from the start."),
    _choice("smtp.auth", "cram-md5", "AUTH METHOD", ("cram-md5", "plain", "login", "none"), DESIGN + "; " + MANUAL + " 9.16",
            "SMTP AUTH mechanism. Only this one is used; there is no fallback."),
    _str("smtp.user", "text", "", "USER NAME", 63, CHOICE, "SMTP AUTH user name."),
    _str("smtp.password", "secret", "", "PASSWORD", 63, CHOICE, "SMTP AUTH password; never shown, logged or printed."),
    _str("smtp.from", "email", "fax@example.com", "FROM ADDRESS", 63, "DESIGN.md 3.4 example", "Envelope and header sender.",
         required=True),
    _choice("smtp.format", "tiff", "FILE FORMAT", ("tiff", "pdf"), DESIGN, "Attachment: TIFF Class F (profile S) or PDF."),
    _int("smtp.max_size_kb", 10240, "MAX MAIL SIZE", 64, 102400, DESIGN,
         "Largest message before the pages are split over several messages, in KiB.", "KiB"),
    _choice("smtp.allow_clear_text", "off", "CLEAR TEXT AUTH", ON_OFF, CHOICE,
            "Allow PLAIN/LOGIN without TLS (off: they need STARTTLS or TLS)."),
    _str("smtp.ca_file", "path", "", "CA FILE", 255, CHOICE, "CA certificates for a private relay (empty: the system's)."),
    _int("smtp.retry_tries", 3, "MAIL RETRIES", 0, 9, CHOICE, "Retries of a queued e-mail after a temporary failure."),
    _int("smtp.retry_interval", 5, "MAIL RETRY INTVL", 1, 60, CHOICE, "Minutes between e-mail retries.", "min"),
    _int("smtp.timeout_greeting", 300, "SMTP GREETING T/O", 1, 3600, RFC5321,
         "Seconds to wait for the connection and the relay's 220 greeting (5 min).", "s"),
    _int("smtp.timeout_command", 300, "SMTP COMMAND T/O", 1, 3600, RFC5321,
         "Seconds to wait for the reply to EHLO, STARTTLS, AUTH, MAIL, RCPT and QUIT (5 min).", "s"),
    _int("smtp.timeout_data_init", 120, "SMTP DATA T/O", 1, 3600, RFC5321,
         "Seconds to wait for the 354 reply to DATA (2 min).", "s"),
    _int("smtp.timeout_data_block", 180, "SMTP BLOCK T/O", 1, 3600, RFC5321,
         "Seconds allowed for sending the message body (3 min for each block).", "s"),
    _int("smtp.timeout_data_end", 600, "SMTP DATA END T/O", 1, 3600, RFC5321,
         "Seconds to wait for the relay's reply after the final dot (10 min).", "s"),
    _int("panel.timeout", 60, "PANEL TIMEOUT", 0, 600, SISTER + " (menus time out); value a project choice",
         "Seconds without a key before a menu or an entry returns to standby (0: never).", "s"),
    _str("polling.password", "secret", "", "POLLING PASSWORD", 20, CHOICE + " (T.30 PWD, up to 20 characters)",
         "Sent as PWD when this machine polls; when set, a machine polling this one must send it. Never shown."),
    _choice("options.second_line", "off", "2ND G3 LINE", ON_OFF, MANUAL + " p.78 (label table: 2nd G3 board); off as shipped",
            "The 2nd G3 option board: a second G3 fax port on its own line (`machine.number2`). ON fits it: the machine "
            "receives on one port while it sends on the other, and a broadcast uses both. Also in service mode (7). "
            "A factory reset leaves the options as they are (the board is still in the machine)."),
    _str("options.g3_version", "text", "V10001", "2ND G3 VERSION", 8, MANUAL + " p.78 (label table: Vxxxxx, digits not given)",
         "The 2nd G3 board's firmware version, as the version screen and the function list show it."),
    _str("options.g3_model", "text", "YC", "2ND G3 MODEL", 4, MANUAL + " p.78 (label table: Model Number YC)",
         "The 2nd G3 board's model number, as the version screen and the function list show it."),
    _choice("polling.keep", "delete", "POLLED DOCUMENT", ("delete", "keep"), CHOICE,
            "After the polling document has been sent: DELETE it, or KEEP it for further polls."),
    _int("t38.redundancy", 3, "T.38 REDUNDANCY", 0, 15, T38_GATEWAYS,
         "Earlier packets each T.38 (UDPTL) datagram repeats for indicators and V.21 control "
         "packets; 0 turns redundancy off for image data too."),
    _int("t38.image_redundancy", 1, "T.38 IMAGE REDUND.", 0, 15, T38_GATEWAYS,
         "Earlier packets repeated in bulk image datagrams (non-ECM data, ECM frames); at most "
         "t38.redundancy."),
    _choice("t38.loss", "0", "T.38 PACKET LOSS", T38_LOSS, CHOICE + " (network impairment for tests)",
            "Fraction of T.38 datagrams the network drops, each way (seeded from --seed)."),
    _int("t38.jitter", 0, "T.38 JITTER", 0, 1000, CHOICE + " (network impairment for tests)",
         "Each T.38 datagram is delayed by 0 to this many ms, each way (so reordered within "
         "it); the reorder window grows to cover it.", "ms"),
    _choice("line.mode", "signal", "LINE MODE", ("signal", "audio"), CHOICE,
            "How calls travel: SIGNAL as modem signals (fast), AUDIO as 8 kHz sound through the modem "
            "chip (SpanDSP), recorded under calls/. The machine under test's value is the simulation's; "
            "`run`/`replay --line` win over it."),
    _int("line.snr_db", 21, "NOISE SNR", 0, 60, CHOICE + "; docs/audio.md (at 21 dB V.17 14400 fails TCF, 12000 passes)",
         "Audio line: while the line.noise fault is set, white noise this many dB below the received signal.", "dB"),
    _int("line.attenuation_db", 0, "LINE LOSS", 0, 40, CHOICE,
         "Audio line: the local loop's loss, both ways.", "dB"),
    _int("line.echo_ms", 0, "ECHO DELAY", 0, 500, CHOICE,
         "Audio line: the station hears its own sound back this much later (0: no echo).", "ms"),
    _int("line.echo_db", 20, "ECHO LOSS", 0, 60, CHOICE,
         "Audio line: how far below the station's own sound its echo comes back.", "dB"),
)  # fmt: skip

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}
KEPT_PREFIX = "options."  # settings a factory reset leaves alone: the option boards fitted

# Directory sizes (not found in the sources; project choice, documented in docs/settings.md).
ONE_TOUCH_SLOTS = 12
SPEED_DIAL_SLOTS = 100


class Settings:
    """Settings in NVRAM, with factory defaults for what was never set. `listeners` hear
    (key, value) after every change, and ("*", None) after a factory reset."""

    def __init__(self, nvram: Nvram) -> None:
        self.nvram = nvram
        self.listeners: Listeners[[str, Value | None]] = Listeners()
        self.damaged: set[str] = set()  # keys whose stored value could not be taken

    def get(self, key: str) -> Value:
        """The stored value; one NVRAM holds that this version cannot take (a wrong type, a choice
        it does not know) reads as the factory default, and `damaged` notes the key."""
        setting = BY_KEY[key]
        stored = self.nvram.get(NS, key, setting.default)
        if stored is setting.default:
            return setting.default
        try:
            value: Value = setting.check(stored)
        except ValueError:
            self.damaged.add(key)
            return setting.default
        return value

    def text(self, key: str) -> str:
        """A text, digits or choice setting."""
        return str(self.get(key))

    def number(self, key: str) -> int:
        """A whole-number setting."""
        return int(self.get(key))

    def __getitem__(self, key: str) -> Value:
        return self.get(key)

    def set(self, key: str, value: object) -> Value:
        setting = BY_KEY.get(key)
        if setting is None:
            raise KeyError(f"no setting named {key!r}")
        checked: Value = setting.check(value)
        self.nvram.set(NS, key, checked)
        self.listeners(key, checked)
        return checked

    def all(self) -> dict[str, Value]:
        return {s.key: self.get(s.key) for s in SETTINGS}

    def factory_reset(self) -> None:
        """Every setting back to its default, except the options fitted (`options.*`): the
        boards are still in the machine."""
        kept = {k: v for k, v in self.nvram.items(NS).items() if k.startswith(KEPT_PREFIX)}
        with self.nvram.transaction():
            self.nvram.clear(NS)
            self.nvram.set_many(NS, kept)
        self.listeners("*", None)


# -- settings file ---------------------------------------------------------------------------


class SettingsFileError(Exception):
    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


@dataclass
class DirectoryEntrySpec:
    kind: str  # one_touch | speed_dial
    slot: int
    name: str
    fax: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Peer:
    """A number of the dial plan (`[line.peers]`) reached outside the process."""

    kind: str  # t38 | iax2
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.kind}:{host}:{self.port}"


PEER_KINDS = ("t38", "iax2")
_PEER = re.compile(r"(t38|iax2):(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})")


def parse_peer(text: str) -> Peer:
    """`t38:HOST:PORT` or `iax2:HOST:PORT` (an IPv6 host in brackets); ValueError saying why."""
    m = _PEER.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError(f"a peer is t38:HOST:PORT or iax2:HOST:PORT, not {text!r}")
    port = int(m.group(3))
    if not 1 <= port <= 65535:
        raise ValueError(f"a peer's port is 1 to 65535, not {port}")
    return Peer(m.group(1), m.group(2).strip("[]"), port)


@dataclass
class SettingsFile:
    path: str
    values: dict[str, Any] = field(default_factory=dict)
    clock: datetime | None = None
    entries: list[DirectoryEntrySpec] = field(default_factory=list)
    peers: dict[str, Peer] = field(default_factory=dict)  # [line.peers]: number -> peer


def _line_index(text: str) -> Callable[..., int]:
    """A finder of the line where a table (and key) appears, for error messages."""
    lines = text.splitlines()
    header = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    keyline = re.compile(r"^\s*([A-Za-z0-9_\"'.-]+)\s*=")

    def find(table: str, key: str | None = None, index: int | None = None) -> int:
        current, seen = "", -1
        table_line = 0
        for n, line in enumerate(lines, start=1):
            m = header.match(line)
            if m:
                current = m.group(2)
                if current == table:
                    seen += 1
                    if index is None or seen == index:
                        table_line = n
                continue
            if current == table and (index is None or seen == index) and key is not None:
                k = keyline.match(line)
                if k and k.group(1).strip("\"'") == key:
                    return n
        return table_line or 1

    return find


def load_settings_file(path: Path) -> SettingsFile:
    """Read and check a settings file; refuse it with the line and the reason."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsFileError(name, 0, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsFileError(name, 1, "not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise SettingsFileError(
            name, int(m.group(1)) if m else 1, f"not valid TOML: {exc}"
        ) from None
    where = _line_index(text)
    result = SettingsFile(name)
    tables = {s.key.split(".")[0] for s in SETTINGS} | {"line"}
    for table, body in data.items():
        if table in ("one_touch", "speed_dial"):
            if not isinstance(body, list):
                raise SettingsFileError(
                    name, where(table), f"[[{table}]] must be an array of tables"
                )
            for i, item in enumerate(body):
                entry = _entry(name, table, i, item, where)
                if any(e.kind == entry.kind and e.slot == entry.slot for e in result.entries):
                    raise SettingsFileError(
                        name,
                        where(table, "slot", i),
                        f"[[{table}]] slot {entry.slot} is given twice",
                    )
                result.entries.append(entry)
            continue
        if table not in tables:
            raise SettingsFileError(name, where(table), f"unknown table [{table}]")
        if not isinstance(body, dict):
            raise SettingsFileError(name, where(table), f"{table} must be a table")
        for key, value in body.items():
            dotted = f"{table}.{key}"
            if dotted == "line.peers":
                result.peers = _peers(name, value, where)
                continue
            if dotted == "machine.clock":
                result.clock = _parse_clock(name, where(table, key), value)
                continue
            setting = BY_KEY.get(dotted)
            if setting is None:
                raise SettingsFileError(
                    name, where(table, key), f"unknown key {key!r} in [{table}]"
                )
            if setting.kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise SettingsFileError(
                    name, where(table, key), f"{dotted} must be a whole number, not {value!r}"
                )
            try:
                result.values[dotted] = setting.check(value)
            except ValueError as exc:
                raise SettingsFileError(name, where(table, key), str(exc)) from None
    values = result.values
    if "machine.number2" in values or values.get("options.second_line") == "on":
        number = values.get("machine.number", BY_KEY["machine.number"].default)
        number2 = values.get("machine.number2", BY_KEY["machine.number2"].default)
        if number == number2:
            line = where("machine", "number2") if "machine.number2" in values else where("options")
            raise SettingsFileError(
                name, line, f"machine.number2 must differ from machine.number ({number})"
            )
    return result


def _peers(name: str, value: Any, where: Callable[..., int]) -> dict[str, Peer]:
    if not isinstance(value, dict):
        raise SettingsFileError(name, where("line.peers"), "[line.peers] must be a table")
    peers: dict[str, Peer] = {}
    for number, text in value.items():
        line = where("line.peers", number)
        if not re.fullmatch(r"[0-9]{1,20}", number):
            raise SettingsFileError(
                name, line, f"a number in [line.peers] is digits, not {number!r}"
            )
        try:
            peers[number] = parse_peer(text)
        except ValueError as exc:
            raise SettingsFileError(name, line, f"[line.peers] {number}: {exc}") from None
    return peers


def _parse_clock(name: str, line: int, value: Any) -> datetime:
    when: datetime | None = None
    if isinstance(value, datetime):
        when = value.replace(tzinfo=None)
    elif isinstance(value, str):
        for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"):
            try:
                when = datetime.strptime(value, fmt)
                break
            except ValueError:
                pass
    if when is not None:
        try:
            return check_date(when)
        except RtcRange as exc:
            raise SettingsFileError(name, line, f"machine.clock: {exc}") from None
    raise SettingsFileError(
        name, line, f"machine.clock must be a date and time like 2026-11-28 09:00, not {value!r}"
    )


def _entry(
    name: str, table: str, index: int, item: Any, where: Callable[..., int]
) -> DirectoryEntrySpec:
    if not isinstance(item, dict):
        raise SettingsFileError(name, where(table, None, index), f"[[{table}]] entries are tables")
    limit = ONE_TOUCH_SLOTS if table == "one_touch" else SPEED_DIAL_SLOTS
    for key in item:
        if key not in ("slot", "name", "fax", "email"):
            raise SettingsFileError(
                name, where(table, key, index), f"unknown key {key!r} in [[{table}]]"
            )
    slot = item.get("slot")
    if isinstance(slot, bool) or not isinstance(slot, int) or not 1 <= slot <= limit:
        raise SettingsFileError(
            name, where(table, "slot", index), f"slot must be 1 to {limit}, not {slot!r}"
        )
    entry_name = item.get("name", "")
    if (
        not isinstance(entry_name, str)
        or len(entry_name) > 16
        or not all(32 <= ord(c) < 127 for c in entry_name)
    ):
        raise SettingsFileError(
            name, where(table, "name", index), "name must be up to 16 printable characters"
        )
    fax, email = item.get("fax"), item.get("email")
    if (fax is None) == (email is None):
        raise SettingsFileError(
            name, where(table, None, index), "an entry has exactly one of fax or email"
        )
    if fax is not None and (not isinstance(fax, str) or not re.fullmatch(r"[0-9*#P,]{1,32}", fax)):
        raise SettingsFileError(
            name, where(table, "fax", index), f"fax must be digits (and P for a pause), not {fax!r}"
        )
    if email is not None and (
        not isinstance(email, str) or not EMAIL_RE.fullmatch(email) or len(email) > 63
    ):
        raise SettingsFileError(
            name, where(table, "email", index), f"not an e-mail address: {email!r}"
        )
    return DirectoryEntrySpec(table, slot, entry_name, fax, email)
