"""The session's SQLite database: schema, durable transactions, readers.

One database file per session (`<session folder>/session.sqlite`), in WAL
mode with `synchronous=FULL`: a transaction is on disk (the WAL fsync'ed)
when COMMIT returns, and a crash at any moment leaves the last committed
transaction, never part of one (SQLite's atomic commit). Writers are
serialised by the Session's lock and by SQLite; readers (the viewer, exports)
use their own connections and see committed data only, each statement a
consistent snapshot, without waiting for a writer.

Any failure to write (read-only files, a full disk, a database locked by
another program, a commit that raises) rolls the transaction back and raises
SaveError, whose message names the reason and never a path.
"""
from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
from pathlib import Path

FILE = "session.sqlite"
SCHEMA_VERSION = 2  # 2: the vectors table (clicked tracks' CLIP vectors)
BUSY_SECONDS = 5.0  # how long a write waits for another writer before it fails as "locked"

SCHEMA = """
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);           -- JSON values
CREATE TABLE tracks (id INTEGER PRIMARY KEY, meta TEXT NOT NULL,             -- Track.meta() JSON
                     refs BLOB NOT NULL,                                     -- int64 per frame
                     rev INTEGER NOT NULL);                                  -- revision of its last change
CREATE TABLE masks (id INTEGER PRIMARY KEY, edit INTEGER NOT NULL,           -- the edit that added it
                    counts BLOB NOT NULL);                                   -- compressed RLE counts
CREATE INDEX masks_by_edit ON masks (edit);
CREATE TABLE edits (seq INTEGER PRIMARY KEY, undone INTEGER NOT NULL DEFAULT 0, label TEXT NOT NULL,
                    time REAL NOT NULL, fields TEXT NOT NULL);               -- {"before": {...}, "after": {...}}
CREATE TABLE edit_tracks (seq INTEGER NOT NULL, track INTEGER NOT NULL,
                          before TEXT, after TEXT,                           -- Track.meta() JSON, or NULL
                          frames BLOB NOT NULL, refs_before BLOB NOT NULL, refs_after BLOB NOT NULL,
                          PRIMARY KEY (seq, track)) WITHOUT ROWID;
CREATE TABLE vectors (id INTEGER PRIMARY KEY, edit INTEGER NOT NULL,         -- the edit that added it
                      model TEXT NOT NULL,                                   -- the CLIP-VIS model it was pooled with
                      data BLOB NOT NULL);                                   -- float32 little-endian
"""
# What each older schema lacks: run in one transaction when such a session is opened.
MIGRATIONS = {1: SCHEMA[SCHEMA.index("CREATE TABLE vectors"):]}


class SaveError(RuntimeError):
    """A change that could not be made durable: nothing changed, on disk or in memory."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(f"Could not save: {reason}")


def reason(exc: BaseException) -> str:
    """Why a write failed, in words a user can act on (no paths)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    if "READONLY" in name or "readonly" in text or "read-only" in text or getattr(exc, "errno", None) in (
            errno.EROFS, errno.EACCES, errno.EPERM):
        return "the session's files are read-only"
    if "FULL" in name or "disk is full" in text or getattr(exc, "errno", None) == errno.ENOSPC:
        return "the disk is full"
    if "BUSY" in name or "LOCKED" in name or "locked" in text:
        return "the session's database is locked by another program"
    if "IOERR" in name or "i/o error" in text or getattr(exc, "errno", None) == errno.EIO:
        return "the disk reported an I/O error"
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno).lower()
    return f"{type(exc).__name__}: {exc}"


class Database:
    def __init__(self, path: Path, conn: sqlite3.Connection):
        self.path = Path(path)
        self._conn = conn
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self.closed = False

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        # Autocommit mode: transactions are the explicit BEGIN/COMMIT of `write`.
        conn = sqlite3.connect(str(path), timeout=BUSY_SECONDS, isolation_level=None, check_same_thread=False)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            conn.close()
            raise SaveError("the session's database cannot use write-ahead logging on this file system")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @classmethod
    def create(cls, path: Path, settings: dict) -> "Database":
        """A new database with the schema and these settings ({key: JSON text}), in one transaction."""
        if Path(path).exists():
            raise FileExistsError(f"{Path(path).name} exists")
        try:
            db = cls(path, cls._connect(path))
        except sqlite3.Error as e:
            raise SaveError(reason(e)) from None
        with db.write() as cur:
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    cur.execute(statement)
            cur.execute("INSERT INTO settings VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            cur.executemany("INSERT INTO settings VALUES (?, ?)", settings.items())
        return db

    @classmethod
    def open(cls, path: Path) -> "Database":
        if not Path(path).is_file():
            raise FileNotFoundError(f"{Path(path).name} is missing")
        try:
            db = cls(path, cls._connect(path))
            version = db._conn.execute("SELECT value FROM settings WHERE key = 'schema'").fetchone()
        except sqlite3.Error as e:
            raise ValueError(f"the session's database cannot be read ({reason(e)})") from None
        if version is not None and int(version[0]) in MIGRATIONS:
            db._migrate(int(version[0]))
            version = (str(SCHEMA_VERSION),)
        if version is None or int(version[0]) != SCHEMA_VERSION:
            db.close()
            raise ValueError(f"the session was saved by another version of the studio (schema {version})")
        return db

    def _migrate(self, version: int) -> None:
        """An older session's schema brought up to date (only tables added)."""
        try:
            with self.write() as cur:
                for old in range(version, SCHEMA_VERSION):
                    for statement in MIGRATIONS[old].split(";"):
                        if statement.strip():
                            cur.execute(statement)
                cur.execute("UPDATE settings SET value = ? WHERE key = 'schema'", (str(SCHEMA_VERSION),))
        except SaveError as e:
            self.close()
            raise ValueError(f"the session needs an update its files do not allow ({e.reason})") from None

    # ---- writing -------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self):
        """One transaction: durable when the block ends, rolled back (and
        SaveError raised) if anything in it or its commit fails."""
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            yield cur
            self._commit()
        except BaseException as e:
            with contextlib.suppress(sqlite3.Error):
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            if isinstance(e, (sqlite3.Error, OSError)):
                raise SaveError(reason(e)) from e
            raise
        finally:
            cur.close()

    def _commit(self) -> None:
        # A method of its own so a test can make it fail (fault injection).
        self._conn.execute("COMMIT")

    def query(self, sql: str, args=()) -> list:
        """Rows of a read on the writer's connection (for loading, under the session lock)."""
        return self._conn.execute(sql, args).fetchall()

    # ---- reading from other threads ---------------------------------------------------
    def reader(self) -> sqlite3.Connection:
        """This thread's read-only connection: never waits for a writer, sees committed data only."""
        if self.closed:
            raise ValueError("this session was closed (deleted, or opened again elsewhere)")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=BUSY_SECONDS, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def close(self) -> None:
        self.closed = True
        with self._readers_lock:
            for conn in self._readers:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._readers.clear()
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
