"""What earlier rows of an import's file used, so a row repeating one is named, not applied twice.

A repeated external_ref, or the same name on the same phone or email, is the same patient
twice; a phone or email that an earlier row gave to someone of another name is a conflict for a
row without an external_ref, exactly as it would be against the stored patient.

Kept out of the process's memory, which would otherwise grow with the file (0.75 KB a row: a
500,000-row import peaked at 475 MB): each key is a 16-byte digest in a private, temporary
SQLite database whose page cache is bounded and whose overflow goes to a temporary file, deleted
when the import ends. A batch costs one lookup of all its keys and one insert of the new ones;
only that batch's keys are ever held in Python.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType

from engage.patients.matching import name_key
from engage.patients.rows import PatientRow

CACHE_KIB = 8 * 1024  # the scratch database's page cache: what it may hold in memory
_CHUNK = 500  # digests per lookup (SQLite builds differ in how many parameters they take)
_Known = dict[bytes, tuple[int, bytes | None]]  # digest -> (line, its name for an owner)


@dataclass(frozen=True)
class _RowKeys:
    line: int
    name: bytes  # digest of the name as identity compares it
    first: str
    last: str
    ref: bytes | None  # digest of the external_ref
    contacts: list[tuple[str, str, bytes]]  # (field, value, digest of the value): its owner

    @classmethod
    def of(cls, line: int, row: PatientRow) -> _RowKeys:
        first, last = name_key(row.first_name, row.last_name)
        ref = None if row.external_ref is None else digest("external_ref", row.external_ref)
        contacts = [
            (key, value, digest(key, value))
            for key in ("phone", "email")
            if (value := getattr(row, key))
        ]
        return cls(line, digest(first, last), first, last, ref, contacts)

    def named(self, key: str, value: str) -> bytes:
        """The digest of this name on this phone or email."""
        return digest(key, value, self.first, self.last)


class FileKeys:
    """The keys of the rows accepted so far; `check` a batch of rows in file order.

    Three kinds of entry, each a digest: a row's external_ref (its line); a phone or email with
    the line and name of the first row that used it (its owner); and the same phone or email
    under another name (a family member's line), the one kind that is rare.
    """

    def __init__(self) -> None:
        # "": a private on-disk database, removed on close; autocommit, each batch one BEGIN.
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode=OFF")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute(
            "CREATE TABLE key (digest BLOB PRIMARY KEY, line INTEGER NOT NULL, name BLOB)"
            " WITHOUT ROWID"
        )

    def __enter__(self) -> FileKeys:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._db.close()

    @property
    def stored(self) -> int:
        """Keys kept so far (in the scratch database, not in memory)."""
        return int(self._db.execute("SELECT count(*) FROM key").fetchone()[0])

    def check(self, rows: Sequence[tuple[int, PatientRow]]) -> list[str | None]:
        """For each (line, row), in order: why it repeats an earlier row, or None (remembered)."""
        keys = [_RowKeys.of(line, row) for line, row in rows]
        wanted = [k.ref for k in keys if k.ref] + [d for k in keys for _, _, d in k.contacts]
        known = _Batch(self._db, self._lookup(wanted))
        found = []
        for row in keys:
            problem = _clash(row, known)
            if problem is None:
                _remember(row, known)
            found.append(problem)
        if known.new:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT INTO key VALUES (?, ?, ?)",
                [(d, line, name) for d, (line, name) in known.new.items()],
            )
            self._db.execute("COMMIT")
        return found

    def _lookup(self, digests: list[bytes]) -> _Known:
        known: _Known = {}
        unique = list(dict.fromkeys(digests))
        for start in range(0, len(unique), _CHUNK):
            part = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(part))
            query = f"SELECT digest, line, name FROM key WHERE digest IN ({marks})"
            known.update((d, (line, name)) for d, line, name in self._db.execute(query, part))
        return known


class _Batch:
    """What one batch knows: the stored entries it looked up, and the ones it adds."""

    def __init__(self, db: sqlite3.Connection, looked_up: _Known) -> None:
        self.db = db
        self.known = looked_up  # every ref and owner digest of the batch that is stored
        self.new: _Known = {}

    def owner(self, owned: bytes) -> tuple[int, bytes | None] | None:
        return self.known.get(owned)

    def named(self, named: bytes) -> tuple[int, bytes | None] | None:
        """A family member's entry: not looked up with the batch, so asked for when needed."""
        if named in self.known:
            return self.known[named]
        found = self.db.execute("SELECT line, name FROM key WHERE digest = ?", (named,)).fetchone()
        return None if found is None else (found[0], found[1])

    def add(self, key: bytes, line: int, name: bytes | None) -> None:
        self.known[key] = self.new[key] = (line, name)


def _clash(row: _RowKeys, known: _Batch) -> str | None:
    if row.ref is not None and (earlier := known.owner(row.ref)):
        return f"external_ref: same as line {earlier[0]}"
    for key, value, owned in row.contacts:
        line = _same_name_line(row, key, value, known.owner(owned), known)
        if line is not None:
            return f"{key}: same as line {line}"
    if row.ref is not None:
        return None
    for key, _, owned in row.contacts:
        owner = known.owner(owned)
        if owner is not None and owner[1] != row.name:
            return (
                f"{key}: same as line {owner[0]}, of another name: a conflict for staff "
                "(give each row an external_ref to add a family member)"
            )
    return None


def _same_name_line(
    row: _RowKeys, key: str, value: str, owner: tuple[int, bytes | None] | None, known: _Batch
) -> int | None:
    """The line of an earlier row of this name on this phone or email, if any."""
    if owner is None:
        return None  # nobody used it yet
    if owner[1] == row.name:
        return owner[0]
    member = known.named(row.named(key, value))
    return None if member is None else member[0]


def _remember(row: _RowKeys, known: _Batch) -> None:
    if row.ref is not None:
        known.add(row.ref, row.line, None)
    for key, value, owned in row.contacts:
        if known.owner(owned) is None:
            known.add(owned, row.line, row.name)
        else:  # another name's phone or email (a family's): this name's first line on it
            known.add(row.named(key, value), row.line, None)


def digest(*parts: str) -> bytes:
    """16 bytes for the parts, joined by NUL: no stored text holds one (rows.py refuses it), so
    no two different tuples share a digest's input."""
    return hashlib.blake2b("\x00".join(parts).encode(), digest_size=16).digest()
