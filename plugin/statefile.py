"""The state file of --state-file: what was last reported, kept between cron runs.

Never a source of false silence: a file that is missing means "nothing
reported yet"; one that cannot be read, is not ours or belongs to another
check is a fault the caller reports (and then rewrites the file); one that
cannot be written is a fault reported on every run.

* JSON, ``"version": 1`` (README, "cron": the format, field by field).
* Written atomically: a temporary file in the same directory (created 0600
  by mkstemp, never through a symlink), fsync, then ``rename`` over the old
  one, so a crash or a full disk leaves the previous file whole.
* Runs of the same cron line are serialised with ``flock`` on a companion
  file ``FILE.lock`` (the state file itself is replaced on every write, and
  a lock on a replaced inode guards nothing).
* Stdlib only; nothing here reads a secret or the network.
"""
import errno
import fcntl
import json
import os
import tempfile
import time

FORMAT = "check_es_snapshot state file"
VERSION = 1
# A state file is a few KB; anything far larger is not one of ours.
MAX_BYTES = 256 * 1024
LOCK_POLL_S = 0.05


class StateFileError(Exception):
    """A state file that cannot be used; the text says why, for an operator."""


class Locked(StateFileError):
    pass


class StateFile:
    def __init__(self, path):
        self.path = os.path.abspath(path)
        self.lock_path = self.path + ".lock"
        self._lock_fd = None

    # -- the lock ----------------------------------------------------------
    def lock(self, until, clock=time.monotonic):
        """flock FILE.lock, trying until the monotonic time ``until`` (at
        least once).  Raises Locked when another run holds it that long,
        StateFileError when the lock file cannot be opened or created."""
        try:
            # Read-only is enough for flock, and opens on a read-only file
            # system too: then the write says what is wrong.
            fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateFileError(f"cannot open its lock file {self.lock_path}: {_why(exc)}") from None
        started = clock()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock_fd = fd
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise StateFileError(f"cannot lock {self.lock_path}: {_why(exc)}") from None
            if clock() >= until:
                os.close(fd)
                raise Locked(f"is locked by another run (waited {clock() - started:.1f}s, -t)")
            time.sleep(LOCK_POLL_S)

    def unlock(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    # -- reading -----------------------------------------------------------
    def read(self, fingerprint):
        """The record last written for this check, or None when there is no
        file.  Raises StateFileError when there is one that cannot be used:
        unreadable, not a state file, another version, or another check's
        (``fingerprint`` differs)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateFileError(f"cannot be read ({_why(exc)})") from None
        try:
            with os.fdopen(fd, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise StateFileError(f"cannot be read ({_why(exc)})") from None
        if len(data) > MAX_BYTES:
            raise StateFileError(f"is not a state file (over {MAX_BYTES // 1024} KB)")
        try:
            record = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StateFileError("is corrupt (not JSON)") from None
        if not isinstance(record, dict) or record.get("file") != FORMAT:
            raise StateFileError("is not a check_es_snapshot state file")
        if record.get("version") != VERSION:
            raise StateFileError(f"has format version {str(record.get('version'))[:10]}, "
                                 f"this check writes {VERSION}")
        about = record.get("check")
        if not isinstance(about, dict) or about.get("fingerprint") != fingerprint:
            raise StateFileError(f"belongs to another check ({_about(about)})")
        if not valid(record):
            raise StateFileError("is corrupt (fields missing or of the wrong type)")
        return record

    # -- writing -----------------------------------------------------------
    def write(self, record):
        """Replace the file by ``record``, atomically.  Raises
        StateFileError (the old file is then left as it was)."""
        record = {"file": FORMAT, "version": VERSION, **record}
        data = (json.dumps(record, indent=1, sort_keys=True) + "\n").encode("utf-8")
        directory, base = os.path.split(self.path)
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp", dir=directory)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            tmp = None
            _sync_directory(directory)
        except OSError as exc:
            raise StateFileError(f"cannot be written ({_why(exc)})") from None
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


# Field -> the types a version-1 record may hold there (None: may be null).
FIELDS = {
    "state": (str,), "since": (int, float), "last_run": (int, float),
    "status": (str,), "problems": (list,),
    "problem_since": (int, float, type(None)), "notified": (int, float, type(None)),
    "recovered": (dict, type(None)), "cluster_name": (str, type(None)),
}
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")


def valid(record):
    if any(not isinstance(record.get(name), types) or isinstance(record.get(name), bool)
           for name, types in FIELDS.items()):
        return False
    recovered = record["recovered"]
    if recovered is not None and not (isinstance(recovered.get("at"), (int, float))
                                      and recovered.get("state") in STATES):
        return False
    return record["state"] in STATES and all(isinstance(p, str) for p in record["problems"])


def _about(about):
    if not isinstance(about, dict):
        return "no check named"
    repositories = about.get("repositories")
    names = ",".join(str(r)[:40] for r in repositories[:5]) if isinstance(repositories, list) else ""
    return f"{str(about.get('url'))[:80]}, repositories {names or 'all'}"


def _why(exc):
    return exc.strerror or type(exc).__name__


def _sync_directory(directory):
    """The rename itself survives a crash once the directory is synced;
    a file system that cannot sync a directory still renamed the file."""
    try:
        fd = os.open(directory or ".", os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
