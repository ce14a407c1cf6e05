"""Snapshots as the check sees them, parsed defensively from any version.

Stdlib only.  Every field Elasticsearch or OpenSearch may omit, mistype or
leave zero (an in-progress snapshot has ``end_time_in_millis`` 0 and, on 6.x,
a negative ``duration_in_millis``) is dealt with here, so the rest of the
plugin works on plain facts.  A body of the wrong shape raises
``ResponseShapeError`` naming the first thing that was wrong.
"""
import json
import math
import re
import sys
from collections import namedtuple
from json.decoder import scanstring

SUCCESS = "SUCCESS"
IN_PROGRESS = "IN_PROGRESS"


class ResponseShapeError(ValueError):
    """The cluster answered, but not with what Elasticsearch sends."""


class OutOfRange:
    """A JSON number no field can hold: NaN, Infinity, beyond 64 bits.

    The client decodes such numbers to this (client.py), so that the field
    holding one is named like any other value of the wrong type.
    """

    def __init__(self, text):
        text = str(text)
        self.text = text if len(text) <= 20 else text[:20] + "..."

    def __repr__(self):
        return f"OutOfRange({self.text!r})"


# Longest int text a 64-bit field can need (sign and 19 digits).
MAX_NUMBER_CHARS = 20


def decode_int(text):
    """parse_int hook: an int no field can hold becomes OutOfRange."""
    if len(text) > MAX_NUMBER_CHARS:
        return OutOfRange(text)
    value = int(text)
    return value if -2 ** 63 <= value < 2 ** 63 else OutOfRange(text)


def decode_float(text):
    """parse_float hook: NaN, infinities and floats beyond 64 bits become OutOfRange."""
    if len(text) > 400:
        return OutOfRange(text)
    value = float(text)
    return value if math.isfinite(value) and abs(value) < 2.0 ** 63 else OutOfRange(text)


def unique_keys(pairs):
    """object_pairs_hook: an object that holds a key twice is refused.

    json.loads keeps the last value silently, so ``"state": "FAILED", ...,
    "state": "SUCCESS"`` would read as a success; which of the two the
    cluster meant cannot be known.  (Costs about a tenth more decoding
    time: see CHANGELOG.)"""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ResponseShapeError(f"an object in the answer holds the key {key[:40]!r} twice")
    return obj


def loads(body, parse_int=None, strict=True):
    """json.loads with the number hooks: no NaN, no Infinity, no float
    beyond 64 bits; ``parse_int=decode_int`` only on a second try, after
    an int of over 4,300 digits (Python's limit) made the first one fail:
    checking every int costs 80% more decoding time.  ``strict``: a key
    twice in one object is refused (unique_keys); an error body is read
    leniently, so its HTTP status keeps its own verdict."""
    return json.loads(body, parse_int=parse_int, parse_float=decode_float, parse_constant=OutOfRange,
                      object_pairs_hook=unique_keys if strict else None)


# Latest time a timestamp may carry: 9999-12-31T23:59:59.999Z.
MAX_MS = 253402300799999


def in_range(value):
    """An int a 64-bit field (and a perfdata value) can hold."""
    return -2 ** 63 <= value < 2 ** 63


# Value objects are namedtuples, not dataclasses: importing dataclasses
# (inspect, ast, dis) and generating their methods cost ~20 ms at every start,
# a tenth of a whole check (measured with python -X importtime).
ShardFailure = namedtuple("ShardFailure", "index shard reason")


class Snapshot(namedtuple("Snapshot", [
        "name", "repository", "state", "start_ms", "end_ms", "duration_ms", "shards_total",
        "shards_failed", "reason", "failures", "size_bytes", "policy"],
        defaults=(0, 0, 0, 0, "", (), None, ""))):
    """One snapshot; ``size_bytes`` None when the cluster gave no size."""
    __slots__ = ()

    @property
    def running(self):
        return self.state == IN_PROGRESS

    def age_s(self, now_ms):
        """Seconds since the snapshot started; a start in the future is 0."""
        return max(0, now_ms - self.start_ms) // 1000

    @property
    def ended_ms(self):
        """When it completed: its end time, or start plus duration for a
        completed snapshot that carries no end time."""
        return self.end_ms if self.end_ms > 0 else self.start_ms + max(0, self.duration_ms)

    @property
    def empty(self):
        """It holds no shard: a snapshot of no index (``indices: "nomatch-*"``
        with ``ignore_unavailable``), or of the cluster state alone."""
        return self.shards_total == 0

    def duration_s(self, now_ms):
        """How long it took, or for a running snapshot how long it runs."""
        if self.running or self.end_ms <= 0:
            return max(0, now_ms - self.start_ms) // 1000
        if self.duration_ms > 0:
            return self.duration_ms // 1000
        return max(0, self.end_ms - self.start_ms) // 1000


# A cluster clock a few minutes ahead is normal (NTP drift): such a start
# counts as age 0.  One more than an hour ahead is suspect: that snapshot is
# set aside (Repository.skewed) so it cannot pass for a fresh backup.
SKEW_TOLERANCE_MS = 3600 * 1000


class Repository(namedtuple("Repository",
                            "name snapshots missing window_s notes skewed successes complete unreadable",
                            defaults=((), False, None, (), (), frozenset({SUCCESS}), True, ()))):
    """The snapshots read from one repository, newest first.

    ``window_s``: on clusters asked for a look-back window, its length.
    ``skewed``: snapshots starting more than SKEW_TOLERANCE_MS in the future,
    kept apart from ``snapshots``.  ``successes``: the states that count as
    a success (SUCCESS, and any state --state-map maps to ok).
    ``complete``: False when older snapshots exist that were not read (a
    look-back window), so a failure streak may reach further back.
    ``unreadable``: names of snapshots the cluster lists but cannot read.
    """
    __slots__ = ()

    @property
    def newest(self):
        return self.snapshots[0] if self.snapshots else None

    def succeeded(self, snap):
        return snap.state in self.successes

    @property
    def newest_success(self):
        """The success that started last: its age is how old the newest
        restorable data is."""
        return next((s for s in self.snapshots if self.succeeded(s)), None)

    @property
    def completed(self):
        """Completed snapshots, the last to end first.

        By end time, not start time: since ES 7.8 snapshots run
        concurrently, and a full snapshot that started first may fail after
        the hourly ones that started later succeeded.  At the same
        millisecond a snapshot that was no success comes first: ties go to
        the worse state."""
        return tuple(sorted((s for s in self.snapshots if not s.running),
                            key=lambda s: (s.ended_ms, not self.succeeded(s), s.name), reverse=True))

    @property
    def newest_completed(self):
        done = self.completed
        return done[0] if done else None

    @property
    def by_policy(self):
        """{policy: completed snapshots, the last to end first}; "" holds
        the snapshots taken without a policy (cron, curator, by hand)."""
        groups = {}
        for snap in self.completed:
            groups.setdefault(snap.policy, []).append(snap)
        return groups

    @property
    def unresolved(self):
        """Completed snapshots that were no success and that no success of
        their own policy ended after: each is judged by its state's level.
        One policy's success never hides another policy's failure."""
        found = []
        for snaps in self.by_policy.values():
            found.extend(self._streak(snaps))
        return tuple(found)

    @property
    def newest_successes(self):
        """The success of each policy that ended last."""
        found = (next((s for s in snaps if self.succeeded(s)), None) for snaps in self.by_policy.values())
        return tuple(s for s in found if s is not None)

    def _streak(self, snaps):
        streak = []
        for snap in snaps:
            if self.succeeded(snap):
                break
            streak.append(snap)
        return streak

    @property
    def running(self):
        """Every snapshot still running, the longest-running first."""
        return tuple(sorted((s for s in self.snapshots if s.running), key=lambda s: (s.start_ms, s.name)))

    @property
    def failed_streak(self):
        """Completed snapshots in a row, the last to end first, that were no
        success: the longest such run of any one policy."""
        return max((len(self._streak(snaps)) for snaps in self.by_policy.values()), default=0)

    def failed_recent(self, count):
        """How many of the last ``count`` completed snapshots (by end time)
        were no success, whatever their policy."""
        return sum(1 for s in self.completed[:count] if not self.succeeded(s))

    @property
    def streak_is_lower_bound(self):
        """True when the longest streak reached the oldest snapshot read of
        its policy, and older ones exist unread: it may be longer."""
        streak = self.failed_streak
        return not self.complete and streak > 0 and any(
            len(snaps) == streak and len(self._streak(snaps)) == streak for snaps in self.by_policy.values())


def _completed_key(survey_snap):
    repo, snap = survey_snap
    return snap.ended_ms, not repo.succeeded(snap), snap.name


def newest_first(snapshots):
    """Order by start time, newest first; list order is never trusted.  At
    the same millisecond a snapshot that is no SUCCESS comes first."""
    return tuple(sorted(snapshots, key=lambda s: (s.start_ms, s.state != SUCCESS, s.name), reverse=True))


class Survey(namedtuple("Survey", "info repositories now_ms slm health registered extras",
                        defaults=(None, None, (), ()))):
    """What one run read: ClusterInfo, Repository tuple (in the order asked),
    the clock, when asked SlmFacts and health Indicators, the names of all
    registered repositories, and ``extras``: why an optional extra (--slm,
    --health) could not be read on this cluster."""
    __slots__ = ()

    @property
    def snapshots(self):
        return [s for repo in self.repositories for s in repo.snapshots]

    @property
    def newest_completed(self):
        """The completed snapshot of any repository that ended last (ties:
        the worse state)."""
        done = [(r, r.newest_completed) for r in self.repositories if r.newest_completed is not None]
        return max(done, key=_completed_key)[1] if done else None

    @property
    def running(self):
        """The longest-running snapshot of any repository, or None.

        Every running snapshot counts, not only the newest: since ES 7.8
        snapshots run concurrently, and a stuck one can sit behind newer
        successes."""
        running = [s for r in self.repositories for s in r.running]
        return min(running, key=lambda s: (s.start_ms, s.name)) if running else None

    @property
    def streak(self):
        """(count, repository) of the longest run of non-successful snapshots."""
        streaks = [(r.failed_streak, r.name) for r in self.repositories if not r.missing and not r.notes]
        return max(streaks, key=lambda item: item[0]) if streaks else (0, "")

    def failed_recent(self, count):
        """(failures among the last ``count`` completed, repository) of the
        repository where that is highest."""
        recent = [(r.failed_recent(count), r.name) for r in self.repositories if not r.missing and not r.notes]
        return max(recent, key=lambda item: item[0]) if recent else (0, "")

    @property
    def stalest(self):
        """Newest success of the repository whose newest success is oldest."""
        successes = [r.newest_success for r in self.repositories if r.newest_success]
        return min(successes, key=lambda s: (s.start_ms, s.repository)) if successes else None


def _field(entry, key, kind, default=None, required=False):
    value = entry.get(key, default)
    if value is None and not required:
        return default
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, kind):
        name = entry.get("snapshot") if isinstance(entry.get("snapshot"), str) else "?"
        what = "missing" if value is None else f"not {_KIND_NAMES[kind]}"
        if isinstance(value, OutOfRange):
            what = f"out of range ({value.text})"
        raise ResponseShapeError(f"snapshot {name!r}: field {key!r} is {what}")
    if kind is int and not in_range(value):
        name = entry.get("snapshot") if isinstance(entry.get("snapshot"), str) else "?"
        raise ResponseShapeError(f"snapshot {name!r}: field {key!r} is out of range ({OutOfRange(value).text})")
    return value


_KIND_NAMES = {int: "a number", str: "a string", dict: "an object", list: "a list"}


def _failures(entry):
    failures = []
    for item in _field(entry, "failures", list, default=[]):
        if isinstance(item, dict):
            failures.append(ShardFailure(
                index=str(item.get("index", "?")),
                # A number (or a name): anything else, a 600-deep list
                # say, would be carried into every output that shows it.
                shard=_shard(item.get("shard_id", "?")),
                reason=str(item.get("reason", "")).strip(),
            ))
    return tuple(failures)


def _shard(value):
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        return value
    return "?"


def sendable(name, what):
    """A name as the cluster sent it, if a request can carry it back: JSON's
    \\udcff escape decodes to a lone surrogate, which no URL can hold."""
    if not name.isascii():
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            escaped = name.encode("utf-8", "backslashreplace").decode("ascii")
            raise ResponseShapeError(f"{what} '{escaped}' is not valid Unicode (a lone surrogate)") from None
    return name


def _size_from_index_details(entry):
    """Total bytes from ``index_details`` (ES >= 7.13), None if absent."""
    details = entry.get("index_details")
    if not isinstance(details, dict) or not details:
        return None
    sizes = [d.get("size_in_bytes") for d in details.values() if isinstance(d, dict)]
    if any(isinstance(s, OutOfRange) or (isinstance(s, int) and not in_range(s)) for s in sizes):
        raise ResponseShapeError(f"snapshot {entry.get('snapshot')!r}: field 'size_in_bytes' is out of range")
    sizes = [s for s in sizes if isinstance(s, int) and not isinstance(s, bool) and s >= 0]
    total = sum(sizes) if sizes else None
    # Each index may hold 2^63-1 and still add up past what perfdata (and a
    # real snapshot) can hold: the total is a field too.
    if total is not None and not in_range(total):
        raise ResponseShapeError(f"snapshot {entry.get('snapshot')!r}: field 'size_in_bytes' is out of range "
                                 "(the indices add up to 2^63 bytes or more)")
    return total


def _policy(entry):
    metadata = entry.get("metadata")
    if not isinstance(metadata, dict):
        return ""
    # Elasticsearch SLM writes "policy", OpenSearch snapshot management "sm_policy".
    value = metadata.get("policy", metadata.get("sm_policy", ""))
    return value if isinstance(value, str) else ""


def _time(entry, key, earliest, **kw):
    """A timestamp in milliseconds of a year the plugin can print (to 9999)."""
    value = _field(entry, key, int, **kw)
    if value > MAX_MS or (earliest is not None and value < earliest):
        raise ResponseShapeError(f"snapshot {entry.get('snapshot')!r}: field {key!r} is out of range "
                                 "(not a time between 1970 and 9999)")
    return value


def parse_snapshot(entry, repository):
    if not isinstance(entry, dict):
        raise ResponseShapeError("a snapshot entry is not an object")
    shards = _field(entry, "shards", dict, default={})
    total, failed = shards.get("total", 0), shards.get("failed", 0)
    if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n < 2 ** 31 for n in (total, failed)):
        raise ResponseShapeError(f"snapshot {entry.get('snapshot')!r}: shard counts are not numbers")
    return Snapshot(
        name=sendable(_field(entry, "snapshot", str, required=True), "snapshot name"),
        # The same few strings in every snapshot: one copy each, not 100,000.
        repository=_interned(_field(entry, "repository", str, default=repository)),
        state=sys.intern(ascii_upper(_field(entry, "state", str, required=True))),
        start_ms=_time(entry, "start_time_in_millis", 0, required=True),
        end_ms=_time(entry, "end_time_in_millis", None, default=0),
        duration_ms=_field(entry, "duration_in_millis", int, default=0),
        shards_total=total,
        shards_failed=failed,
        reason=(_field(entry, "reason", str, default="") or "").strip(),
        failures=_failures(entry),
        size_bytes=_size_from_index_details(entry),
        policy=_interned(_policy(entry)),
    )


def ascii_upper(text):
    """A state name in capitals, ASCII only: str.upper() would also make
    SUCCESS of "ſucceſſ" and IN_PROGRESS of "ın_progress".  Any other
    text is kept as it is, so it is judged as the unrecognised state it is."""
    return text.upper() if text.isascii() else text


def _interned(text):
    return sys.intern(text) if isinstance(text, str) else text


# Which of the two the cluster meant cannot be known: neither is read.
_BOTH = "the snapshot listing holds both a 'snapshots' list and a 'responses' wrapper"


def parse_listing(payload, repository=None):
    """Snapshots of a get-snapshots body, grouped by repository.

    Accepts the flat ``{"snapshots": [...]}`` every release sends and the
    ``{"responses": [{"repository": .., "snapshots": [..]}]}`` wrapper of
    some 8.0 development builds.  ``repository`` names the repository the
    request was for, when the entries do not say (ES < 7.14, OpenSearch).
    Returns ``({repository: [Snapshot, ...]}, {repository: reason})``, the
    second for repositories the cluster reported as failed.
    """
    if not isinstance(payload, dict):
        raise ResponseShapeError("the snapshot listing is not a JSON object")
    if "responses" in payload and "snapshots" in payload:
        raise ResponseShapeError(_BOTH)
    grouped, failed = {}, {}
    if isinstance(payload.get("responses"), list):
        for item in payload["responses"]:
            if not isinstance(item, dict) or not isinstance(item.get("repository"), str):
                raise ResponseShapeError("a 'responses' entry names no repository")
            if "error" in item:
                failed[item["repository"]] = error_reason(item["error"])
                continue
            inner, _ = parse_listing({"snapshots": item.get("snapshots")}, item["repository"])
            for name, snaps in inner.items():
                grouped.setdefault(name, []).extend(snaps)
        return grouped, failed
    entries = payload.get("snapshots")
    if not isinstance(entries, list):
        raise ResponseShapeError("the snapshot listing has no 'snapshots' list")
    return _grouped((parse_snapshot(entry, repository) for entry in entries), payload.get("failures"))


def _grouped(snapshots, failures):
    grouped, failed = {}, {}
    for snap in snapshots:
        if snap.repository is None:
            raise ResponseShapeError(f"snapshot {snap.name!r} names no repository")
        grouped.setdefault(snap.repository, []).append(snap)
    if isinstance(failures, dict):
        for name, error in failures.items():
            failed[str(name)] = error_reason(error)
    return grouped, failed


def refill_filtered(payload):
    """A listing body as parse_listing knows it, after filter_path.

    Elasticsearch drops an array its filter left empty: a repository without
    snapshots answers ``{}``, a ``responses`` item loses its ``snapshots``.
    The empty lists are put back only where nothing but filtered keys is
    left, so a body of another shape still fails as one.
    """
    if not isinstance(payload, dict):
        return payload
    if "snapshots" not in payload and "responses" not in payload and set(payload) <= {"failures"}:
        return {**payload, "snapshots": []}
    for item in payload.get("responses") if isinstance(payload.get("responses"), list) else ():
        if isinstance(item, dict) and "error" not in item:
            item.setdefault("snapshots", [])
    return payload


_SPACE = re.compile(r"[ \t\n\r]*")


def _skip(text, at):
    return _SPACE.match(text, at).end()


def _after(text, at, closing):
    """Index past a ``,`` (False) or the ``closing`` bracket (True) at ``at``."""
    at = _skip(text, at)
    if text.startswith(",", at):
        return _skip(text, at + 1), False
    if text.startswith(closing, at):
        return at + 1, True
    raise json.JSONDecodeError("Expecting ',' delimiter", text, at)


def decode_listing(body, repository=None, filtered=False, parse_int=None):
    """``parse_listing(json.loads(body))``, one snapshot at a time.

    json.loads would build a dict for every snapshot before the first one
    is parsed: for 100,000 snapshots that is most of a check's memory.  Here
    the top-level object is walked by hand and each entry of ``snapshots``
    is decoded, turned into a Snapshot and dropped, so memory follows the
    number of snapshots, not the size of the body.  Anything but a plain
    ``{"snapshots": [...]}`` (the ``responses`` wrapper, an error) is
    decoded whole and given to parse_listing.  ``filtered``: filter_path
    was sent (see refill_filtered).  Malformed JSON raises JSONDecodeError
    as json.loads would.
    """
    text = body.decode(json.detect_encoding(body)) if isinstance(body, (bytes, bytearray)) else body
    decoder = json.JSONDecoder(parse_int=parse_int, parse_float=decode_float, parse_constant=OutOfRange,
                               object_pairs_hook=unique_keys)
    at = _skip(text, 0)
    if not text.startswith("{", at):
        payload = loads(text, parse_int)
        return parse_listing(refill_filtered(payload) if filtered else payload, repository)
    rest, snapshots, seen = {}, None, set()
    at, done = _skip(text, at + 1), text.startswith("}", _skip(text, at + 1))
    at += done
    while not done:
        if not text.startswith('"', at):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, at)
        key, at = scanstring(text, at + 1)
        if key in seen:  # as unique_keys does for every inner object
            raise ResponseShapeError(f"an object in the answer holds the key {key[:40]!r} twice")
        seen.add(key)
        at = _skip(text, at)
        if not text.startswith(":", at):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, at)
        at = _skip(text, at + 1)
        if key == "snapshots" and text.startswith("[", at):
            snapshots, at = [], _skip(text, at + 1)
            closed = text.startswith("]", at)
            at += closed
            while not closed:
                entry, at = decoder.raw_decode(text, at)
                snapshots.append(parse_snapshot(entry, repository))
                at, closed = _after(text, at, "]")
            rest.pop(key, None)
        else:
            rest[key], at = decoder.raw_decode(text, at)
            if key == "snapshots":
                snapshots = None
        at, done = _after(text, at, "}")
    if _skip(text, at) != len(text):
        raise json.JSONDecodeError("Extra data", text, at)
    if snapshots is None:
        return parse_listing(refill_filtered(rest) if filtered else rest, repository)
    if "responses" in rest:
        raise ResponseShapeError(_BOTH)
    return _grouped(snapshots, rest.get("failures"))


def error_reason(error):
    """The readable part of an Elasticsearch error object or string."""
    if isinstance(error, dict):
        reason = error.get("reason") or error.get("type")
        if isinstance(reason, str):
            return reason
    if isinstance(error, str):
        return error
    return "unreadable error"


def parse_repositories(payload):
    """Names of the registered repositories from ``GET _snapshot``."""
    if not isinstance(payload, dict):
        raise ResponseShapeError("the repository list is not a JSON object")
    return sorted(sendable(str(name), "repository name") for name in payload)


def parse_status_size(payload):
    """Total bytes of one snapshot from ``_status``, both stats shapes.

    ES >= 7.0 and OpenSearch nest ``stats.total.size_in_bytes``; ES <= 6
    has a flat ``stats.total_size_in_bytes``.  None when neither is there.
    """
    try:
        stats = payload["snapshots"][0]["stats"]
    except (KeyError, IndexError, TypeError):
        return None
    if not isinstance(stats, dict):
        return None
    total = stats.get("total")
    value = total.get("size_in_bytes") if isinstance(total, dict) else stats.get("total_size_in_bytes")
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 63:
        return value
    return None
