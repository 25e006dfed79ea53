"""Battery-backed memory (NVRAM): settings, directory, journal and image memory.

Stored in one SQLite database (`--state DIR/nvram.sqlite`, or in memory without a state
directory). SQLite gives what the battery gives the real machine: a write is all or nothing,
so a power cut at any moment leaves either the old or the new value. A file that is not ours
(foreign or corrupt) is moved aside and the machine starts from factory defaults; the reason is
kept in `reset_reason` for the firmware to show. A file that can be read but not written (a
read-only file system, an immutable file) is copied into memory: the machine runs on with what it
held, changes are not kept, and `read_only_reason` says so.

The database holds secrets (the SMTP password): the state directory is made mode 0700 and the
database file 0600 before SQLite opens it (existing ones lose their group and other bits); SQLite
gives its journal the database file's mode.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DIR_MODE = 0o700
FILE_MODE = 0o600
MAGIC = "estudio190f-nvram"
VERSION = 1
FILENAME = "nvram.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
    ns TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (ns, key));
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,
    meta TEXT NOT NULL, data BLOB);
CREATE INDEX IF NOT EXISTS records_kind ON records (kind, id);
"""


class NvramError(Exception):
    pass


def _private_dir(path: Path) -> None:
    """The state directory, readable by its owner only."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        os.chmod(path, path.stat().st_mode & ~0o077 & 0o7777)


def _private_file(path: Path) -> None:
    """The database file made mode 0600 (an existing one loses its group and other bits) before
    SQLite opens it; so do a journal left by a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, FILE_MODE)
    try:
        mode = os.fstat(fd).st_mode
        if mode & 0o077:
            os.fchmod(fd, mode & 0o700)
    finally:
        os.close(fd)
    for suffix in ("-journal", "-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists() and side.stat().st_mode & 0o077:
            os.chmod(side, side.stat().st_mode & 0o700)


@dataclass
class Record:
    id: int
    kind: str
    meta: dict[str, Any]
    data: bytes | None


class Nvram:
    def __init__(self, directory: Path | None = None) -> None:
        self.path: Path | None = Path(directory) / FILENAME if directory is not None else None
        self.reset_reason: str | None = None
        self.read_only_reason: str | None = None
        self.moved_to: Path | None = None
        self._depth = 0
        # RAM copy of key/value rows read or written (JSON text, or None for "absent"): the
        # settings are read on every key press. Forgotten whole when a transaction rolls back.
        self._kv: dict[tuple[str, str], str | None] = {}
        # RAM copy of the record listings read, by kind (id, kind, meta JSON; not the data): the
        # standby screen asks for the memory files every minute. Forgotten whole on any write to
        # the records and when a transaction rolls back.
        self._listings: dict[str, list[tuple[int, str, str]]] = {}
        if self.path is None:
            self.db = self._connect(":memory:")
            self._init_schema()
        else:
            _private_dir(self.path.parent)
            self.db = self._open_checked(self.path)

    # -- opening ------------------------------------------------------------------------
    @staticmethod
    def _connect(where: str) -> sqlite3.Connection:
        if where != ":memory:":
            _private_file(Path(where))
        db = sqlite3.connect(where, isolation_level=None)
        db.execute("PRAGMA journal_mode=DELETE")
        db.execute("PRAGMA synchronous=FULL")
        return db

    def _connect_writable(self, path: Path) -> sqlite3.Connection:
        """The file, or (when it cannot be written) a copy of it in memory."""
        try:
            db = self._connect(str(path))
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE meta SET value = value WHERE key = 'magic'")
            db.execute("COMMIT")
            return db
        except (sqlite3.OperationalError, PermissionError) as exc:
            reason = str(exc) if isinstance(exc, sqlite3.OperationalError) else exc.strerror
        source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        memory = sqlite3.connect(":memory:", isolation_level=None)
        source.backup(memory)
        source.close()
        self.read_only_reason = f"{path} cannot be written ({reason}): changes are not kept"
        return memory

    def _init_schema(self) -> None:
        self.db.executescript(_SCHEMA)
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('magic', ?)", (MAGIC,))
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('version', ?)", (str(VERSION),))

    def _open_checked(self, path: Path) -> sqlite3.Connection:
        if path.exists() and path.stat().st_size > 0:
            problem = self._check_file(path)
            if problem is None:
                self.db = self._connect_writable(path)
                return self.db
            self.reset_reason = problem
            self.moved_to = self._move_aside(path)
        self.db = self._connect(str(path))
        self._init_schema()
        return self.db

    @staticmethod
    def _check_file(path: Path) -> str | None:
        with open(path, "rb") as f:
            head = f.read(16)
        if head != b"SQLite format 3\x00":
            return "not an NVRAM image (unknown format)"
        try:
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                ok = db.execute("PRAGMA quick_check").fetchone()
                if not ok or ok[0] != "ok":
                    return f"NVRAM image corrupt ({ok[0] if ok else 'no answer'})"
                tables = {
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                }
                if "meta" not in tables:
                    return "NVRAM image belongs to something else"
                rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
            finally:
                db.close()
        except sqlite3.DatabaseError as exc:
            return f"NVRAM image unreadable ({exc})"
        if rows.get("magic") != MAGIC:
            return "NVRAM image belongs to something else"
        if rows.get("version") != str(VERSION):
            return f"NVRAM image version {rows.get('version')} not supported"
        return None

    @staticmethod
    def _move_aside(path: Path) -> Path:
        n = 1
        while True:
            target = path.with_name(f"{path.name}.bad-{n}")
            if not target.exists():
                break
            n += 1
        path.rename(target)
        for suffix in ("-journal", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        return target

    def close(self) -> None:
        self.db.close()

    # -- snapshots ----------------------------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        if self._depth:
            raise NvramError("NVRAM is in the middle of a transaction")
        state = self.__dict__.copy()
        state["db"] = self.db.serialize()
        state["path"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        image = state.pop("db")
        self.__dict__.update(state)
        self.db = self._connect(":memory:")
        self.db.deserialize(image)

    def keep_in(self, directory: Path) -> None:
        """Keep this NVRAM in DIR/nvram.sqlite from now on, replacing what the file held (a
        snapshot restored with a state directory)."""
        _private_dir(Path(directory))
        path = Path(directory) / FILENAME
        target = self._connect(str(path))
        self.db.backup(target)
        self.db.close()
        self.db = target
        self.path = path

    # -- transactions -------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside happen together or not at all. Nests (inner ones join)."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._kv.clear()
            self._listings.clear()
            self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")

    # -- key/value (settings, directory) ------------------------------------------------
    def get(self, ns: str, key: str, default: Any = None) -> Any:
        where = (ns, key)
        if where in self._kv:
            text = self._kv[where]
        else:
            row = self.db.execute("SELECT value FROM kv WHERE ns=? AND key=?", where).fetchone()
            text = self._kv[where] = row[0] if row else None
        return json.loads(text) if text is not None else default

    def set(self, ns: str, key: str, value: Any) -> None:
        text = json.dumps(value)
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (ns, key, text))
            self._kv[(ns, key)] = text

    def set_many(self, ns: str, values: dict[str, Any]) -> None:
        with self.transaction():
            for key, value in values.items():
                self.set(ns, key, value)

    def delete(self, ns: str, key: str) -> None:
        with self.transaction():
            self.db.execute("DELETE FROM kv WHERE ns=? AND key=?", (ns, key))
            self._kv[(ns, key)] = None

    def items(self, ns: str) -> dict[str, Any]:
        rows = self.db.execute("SELECT key, value FROM kv WHERE ns=? ORDER BY key", (ns,))
        return {k: json.loads(v) for k, v in rows}

    def clear(self, ns: str | None = None) -> None:
        self._kv.clear()
        self._listings.clear()
        with self.transaction():
            if ns is None:
                self.db.execute("DELETE FROM kv")
                self.db.execute("DELETE FROM records")
            else:
                self.db.execute("DELETE FROM kv WHERE ns=?", (ns,))

    # -- records (journal, image memory, mail queue) -------------------------------------
    def add_record(self, kind: str, meta: dict[str, Any], data: bytes | None = None) -> int:
        self._listings.clear()
        with self.transaction():
            cur = self.db.execute(
                "INSERT INTO records (kind, meta, data) VALUES (?, ?, ?)",
                (kind, json.dumps(meta, sort_keys=True), data),
            )
        return int(cur.lastrowid or 0)

    def update_record(self, record_id: int, meta: dict[str, Any]) -> None:
        self._listings.clear()
        with self.transaction():
            self.db.execute(
                "UPDATE records SET meta=? WHERE id=?",
                (json.dumps(meta, sort_keys=True), record_id),
            )

    def delete_record(self, record_id: int) -> None:
        self._listings.clear()
        with self.transaction():
            self.db.execute("DELETE FROM records WHERE id=?", (record_id,))

    def delete_records(self, kind: str) -> None:
        self._listings.clear()
        with self.transaction():
            self.db.execute("DELETE FROM records WHERE kind=?", (kind,))

    def record(self, record_id: int) -> Record | None:
        row = self.db.execute(
            "SELECT id, kind, meta, data FROM records WHERE id=?", (record_id,)
        ).fetchone()
        return Record(row[0], row[1], json.loads(row[2]), row[3]) if row else None

    def records(self, kind: str, with_data: bool = False) -> list[Record]:
        if with_data:
            rows = self.db.execute(
                "SELECT id, kind, meta, data FROM records WHERE kind=? ORDER BY id", (kind,)
            )
            return [Record(r[0], r[1], json.loads(r[2]), r[3]) for r in rows]
        listing = self._listings.get(kind)
        if listing is None:
            listing = self._listings[kind] = self.db.execute(
                "SELECT id, kind, meta FROM records WHERE kind=? ORDER BY id", (kind,)
            ).fetchall()
        return [Record(r[0], r[1], json.loads(r[2]), None) for r in listing]

    def count(self, kind: str) -> int:
        row = self.db.execute("SELECT COUNT(*) FROM records WHERE kind=?", (kind,)).fetchone()
        return int(row[0])

    def bytes_used(self, kind: str | None = None) -> int:
        if kind is None:
            row = self.db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM records").fetchone()
        else:
            row = self.db.execute(
                "SELECT COALESCE(SUM(LENGTH(data)), 0) FROM records WHERE kind=?", (kind,)
            ).fetchone()
        return int(row[0])
