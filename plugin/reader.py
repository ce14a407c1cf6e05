"""Reads what the check needs from the cluster, asking for as little as it can.

A check runs every few minutes on every cluster, so the cost per run must not
grow with the repository.  The version decides the requests (see cluster.py):
on ES >= 7.16 one request returns only the snapshots inside a look-back
window and the cluster never loads the metadata of older ones; older
versions and OpenSearch get the plain listing, their only option.
"""
import logging
import re
from typing import FrozenSet, NamedTuple, Optional, Tuple
from urllib.parse import quote

from . import cluster, plan, slm
from .health import parse_health
from .errors import EsError
from .snapshots import (Repository, ResponseShapeError, SKEW_TOLERANCE_MS, SUCCESS, Survey, decode_listing,
                        newest_first, parse_repositories, parse_status_size)

log = logging.getLogger("nagiosplugin.es_snapshot")


class Unsupported(Exception):
    """An optional extra this cluster does not have (reported, not judged)."""

# How much further back each further request looks, on ES >= 7.16, for a
# repository whose window held no successful snapshot: 8, 64 and 512 times
# the window (with the default -c 2d2h: 17d, 142d, 3y).  Each request is
# still pruned by from_sort_value, so the cluster loads only the snapshots
# inside it, and the widening stops at the first step that finds a success:
# during an outage the age of the last success (and its perfdata) survives
# for years, at a cost bounded by the snapshots of the widest window.
WIDENING = 8
WIDENING_STEPS = 3
# -v shows at least this many snapshots of each repository: on ES >= 7.16,
# when the window held fewer, one more request per such repository asks for
# the newest ones started before the window (order=desc, from_sort_value,
# size), so the cluster still skips the newer ones and sends only these.
HISTORY = 10
# "[repository:snapshot/uuid] is missing": the reason of a snapshot_missing_exception.
_MISSING = re.compile(r"\[([^\[\]:]+):([^\[\]/]+)(?:/[^\[\]]*)?\] is missing")


def _asked(listing, names):
    """A listing answer, refused when it holds a snapshot of a repository
    that was not asked for: dropped, it would leave an older success of
    the one asked for looking current, and which repository the snapshot
    is of cannot be known."""
    found, failed = listing
    stray = next((s for repo, snaps in found.items() if repo not in names for s in snaps), None)
    if stray is not None:
        raise ResponseShapeError(f"the listing of {', '.join(n[:60] for n in names[:3])!r} holds snapshot "
                                 f"{stray.name[:60]!r} of repository {stray.repository[:60]!r}, not asked for")
    return found, failed


def _one_each(repository, snapshots):
    """{name: Snapshot}: a snapshot listed twice (in one answer, or by
    the listing and by _current) counts once; listed twice with another
    state or start time, it is refused (the check cannot know which is
    true: "FAILED" then "SUCCESS" would read as a success)."""
    by_name = {}
    for snap in snapshots:
        seen = by_name.get(snap.name)
        if seen is not None and (seen.state, seen.start_ms) != (snap.state, snap.start_ms):
            raise ResponseShapeError(f"snapshot {snap.name[:60]!r} is listed twice in repository "
                                     f"{repository[:60]!r}, as {seen.state[:24]} and {snap.state[:24]}"
                                     + (" with other start times" if seen.state == snap.state else ""))
        by_name[snap.name] = snap
    return by_name


class Query(NamedTuple):
    """What one run asks of the cluster (built once, by options.parse_settings)."""
    repositories: Tuple[str, ...] = ()   # empty: every registered one
    window_s: Optional[int] = None       # look-back in seconds; None: no window
    sizes: bool = True                   # collect bytes (may cost one _status request)
    policy: str = ""                     # only snapshots of this SLM / snapshot-management policy
    slm: bool = False                    # also read SLM status and policies
    health: bool = False                 # also read the health report
    # The states that count as a success: SUCCESS and any state --state-map maps to ok.
    successes: FrozenSet[str] = frozenset({SUCCESS})
    history: bool = False                # read HISTORY snapshots per repository (-v)
    recent: int = 0                      # read the last N completed snapshots per repository (--failed-in-last)
    # What the run shows (-v, --format), so it asks for no field it will not
    # show (SnapshotReader.fields).
    verbose: int = 0
    format: str = "nagios"
    cluster_name: bool = False           # ask GET / for the cluster's name (--state-file mails it)


HEALTH_INDICATORS = ("slm", "repository_integrity")


# Elasticsearch refuses request lines over 4 KB (http.max_initial_line_length);
# this much is left for the names, the rest for --url's prefix and parameters.
MAX_NAMES_IN_PATH = 3000


def path_of(*segments):
    """URL path from names that may hold any character (repository names).

    A name ``.`` or ``..`` is percent-encoded: as a path segment it would
    climb out of the --url prefix.
    """
    return "/" + "/".join(_segment(s) for s in segments)


def _segment(name):
    quoted = quote(name, safe=",*")
    return quoted.replace(".", "%2E") if quoted.strip(".") == "" else quoted


def name_groups(names):
    """The names in comma lists that each fit in one request line."""
    group, used = [], 0
    for name in names:
        size = len(quote(name, safe=",*")) + 1
        if group and used + size > MAX_NAMES_IN_PATH:
            yield group
            group, used = [], 0
        group.append(name)
        used += size
    if group:
        yield group


class SnapshotReader:
    def __init__(self, client, query):
        self.client = client
        self.query = query
        self.unreadable = {}  # repository -> names of snapshots without readable metadata

    def fields(self, info):
        """The per-snapshot fields this run reads: the judgement's, sizes
        where the listing has them, the shard failures only for -v and JSON,
        and policies always: the judgement groups snapshots by policy, so
        that one policy's success does not hide another's failure.  Every
        listing request asks for these alone."""
        query = self.query
        json_report = query.format == "json"
        return cluster.snapshot_fields(sizes=query.sizes and info.index_details, policy=True,
                                       shard_failures=query.verbose > 0 or json_report)

    def read(self, now_ms):
        # The request plan (plan.py): GET / and GET /_snapshot only when the
        # run cannot do without them.
        info = self._version_if_needed()
        registered = None if self.query.repositories else self._registered()
        wanted = self.query.repositories or tuple(registered)
        try:
            found, failed, windows, complete = self._listing(info, self._present(wanted, registered), now_ms)
        except plan.VersionNeeded:
            self._settle()  # _current sent ahead is of no use to the plain listing
            info = self._cluster_info()
            found, failed, windows, complete = self._listing(info, self._present(wanted, registered), now_ms)
        if registered is None and failed:
            # A repository -r named that is not registered fails its listing:
            # the registered ones tell it from one that could not be read.
            registered = self._registered()
            failed = {name: why for name, why in failed.items() if name in registered}
        registered = wanted if registered is None else registered
        if self.query.policy:
            found = {name: [s for s in snaps if s.policy == self.query.policy]
                     for name, snaps in found.items()}
        repositories = tuple(self._repository(name, name not in registered, found, failed,
                                              windows.get(name), now_ms, complete.get(name, True))
                             for name in wanted)
        extras = []
        slm_facts = self._extra(self._slm, info, extras) if self.query.slm else None
        health = self._extra(self._health, info, extras) if self.query.health else None
        survey = Survey(info=info, repositories=repositories, now_ms=now_ms, slm=slm_facts,
                        health=health, registered=tuple(registered), extras=tuple(extras))
        survey = self._with_size(survey, info)
        self._settle()
        count, size, seconds = self.client.totals()
        log.info("%d requests, %d bytes received, %.0f ms waiting for the cluster", count, size, seconds * 1000)
        return survey

    @staticmethod
    def _extra(read, info, extras):
        """An optional extra; one the cluster lacks is noted, never fatal:
        the snapshot judgement must stand without it."""
        try:
            return read(info)
        except Unsupported as exc:
            extras.append(str(exc))
            return None

    def _slm(self, info):
        if info.opensearch:
            if info.version < (2, 1):
                raise Unsupported(f"--slm: {info.label} has no snapshot management (OpenSearch 2.1 or later)")
            return self._sm()
        if not info.at_least(7, 4):
            raise Unsupported(f"--slm: {info.label} has no SLM (Elasticsearch 7.4 or later)")
        try:
            mode = None
            if info.at_least(7, 6):
                mode = slm.parse_slm_status(self.client.get("/_slm/status", what="read the SLM status"))
            path = path_of("_slm", "policy", self.query.policy) if self.query.policy else "/_slm/policy"
            try:
                policies = slm.parse_policies(self.client.get(path, what="read the SLM policies"))
            except EsError as exc:
                if exc.status != 404:
                    raise
                policies = ()  # the named policy does not exist: judged by the context
        except EsError as exc:
            # A build without x-pack ILM/SLM: 405 on the ES 7.10.2, 7.17.29 and
            # 8.19.21 integ-test zips, 400 on 9.5.2 (seen on the real engines).
            if exc.status == 405 or (exc.status == 400 and "no handler" in str(exc)) or \
                    (exc.status == 400 and "_slm/status" in str(exc)):
                raise Unsupported(f"--slm: {info.label} has no SLM API (HTTP {exc.status}; "
                                  "a build without x-pack?)") from None
            raise
        return slm.SlmFacts(mode=mode, policies=policies)

    def _sm(self):
        """OpenSearch snapshot management (>= 2.1): the policies, then their
        _explain (the state of their last creation and deletion)."""
        repositories = {}
        if self.query.policy:
            names = [self.query.policy]
        else:
            try:
                listed = self.client.get("/_plugins/_sm/policies", what="list the snapshot management policies")
            except EsError as exc:
                if exc.status == 404:  # no policy was ever created: the config index does not exist
                    return slm.SlmFacts(mode=None, policies=())
                if exc.status == 400:
                    raise Unsupported(f"--slm: snapshot management is not available ({exc})") from None
                raise
            repositories = slm.parse_sm_policies(listed)
            names = sorted(repositories)
            if not names:
                return slm.SlmFacts(mode=None, policies=())
        try:
            explained = self.client.get(path_of("_plugins", "_sm", "policies", ",".join(names), "_explain"),
                                        what="explain the snapshot management policies")
        except EsError as exc:
            # Named with --slm-policy, the first request is this one: a build
            # without the plugin (the OpenSearch 2.19.6 and 3.6.0 integ-test
            # zips) answers 400 "no handler found" here too.
            if exc.status == 400:
                raise Unsupported(f"--slm: snapshot management is not available ({exc})") from None
            if exc.status != 404:
                raise
            return slm.SlmFacts(mode=None, policies=())  # the named policy does not exist
        return slm.SlmFacts(mode=None, policies=slm.parse_sm_explain(explained, repositories))

    def _health(self, info):
        if not info.at_least(8, 7):
            raise Unsupported(f"--health: {info.label} has no health report (Elasticsearch 8.7 or later)")
        payload = self.client.get("/_health_report", {"verbose": "false"}, what="read the health report")
        return parse_health(payload, HEALTH_INDICATORS)

    def _cluster_info(self):
        info = cluster.parse_cluster_info(self.client.get("/", what="read the cluster version"))
        log.info("listing strategy for %s: %s", info.label, info.strategy)
        return info

    def _send_current_ahead(self, names, params):
        """The running snapshots (_current), asked while the window listing
        is under way: the same requests _current() sends after it, which
        take these answers (plan.py).  The client sends ahead only as the
        run's first request; clients that cannot (test doubles) send them
        when _current() asks."""
        send_ahead = getattr(self.client, "send_ahead", None)
        if send_ahead is None:
            return
        fields = {k: v for k, v in params.items() if k == "filter_path"}
        for group in name_groups(names):
            send_ahead(path_of("_snapshot", ",".join(group), "_current"), fields)

    def _settle(self):
        settle = getattr(self.client, "settle", None)
        if settle is not None:
            settle()

    def _version_if_needed(self):
        """ClusterInfo from GET / where the run needs it (plan.needs_version).

        A user with ``monitor_snapshot`` alone may not read GET / (it needs
        ``cluster:monitor/main``): where the version only labels the output
        (-v, JSON), the listing the cluster accepts says "7.16 or later"
        instead, and only a cluster that refuses it needs GET / after all."""
        if not plan.needs_version(self.query):
            return plan.ASSUMED
        try:
            return self._cluster_info()
        except EsError as exc:
            if exc.status != 403 or not plan.may_assume(self.query):
                raise
            log.info("GET / not permitted (%s); the version is learnt from the listing", exc)
            return plan.ASSUMED

    def _registered(self):
        return parse_repositories(self.client.get("/_snapshot", what="list repositories"))

    @staticmethod
    def _present(wanted, registered):
        """The wanted repositories worth listing: all of them while the
        registered ones are not known (plan.py)."""
        return list(wanted) if registered is None else [name for name in wanted if name in registered]

    def _repository(self, name, missing, found, failed, window_s, now_ms, complete):
        notes = (f"could not be read: {failed[name]}",) if name in failed else ()
        snapshots = newest_first(_one_each(name, found.get(name, ())).values())
        ahead = now_ms + SKEW_TOLERANCE_MS
        return Repository(name=name, snapshots=tuple(s for s in snapshots if s.start_ms <= ahead),
                          skewed=tuple(s for s in snapshots if s.start_ms > ahead),
                          missing=missing, window_s=window_s, notes=notes,
                          successes=self.query.successes, complete=complete,
                          unreadable=tuple(self.unreadable.get(name, ())))

    def _settled(self, snaps, now_ms):
        """A success (not from a skewed clock) is among these snapshots.

        Of the policy asked for: ES 7.16-7.17 ignore slm_policy_filter next
        to from_sort_value (seen on 7.17.29), so another policy's success
        must not stop the look further back."""
        ahead = now_ms + SKEW_TOLERANCE_MS
        policy = self.query.policy
        return any(s.state in self.query.successes and s.start_ms <= ahead
                   and (not policy or s.policy == policy) for s in snaps)

    def _get_listing(self, path, params, what, repository):
        """A listing that cannot silently lose a snapshot.

        ``ignore_unavailable=true`` drops a snapshot whose metadata cannot be
        read without a word: an unreadable newest snapshot would leave an
        older success looking current (seen on Elasticsearch 6.8.23 to
        9.5.2).  So the listing is asked for strictly; only when the cluster
        names a snapshot it cannot read is it asked again with
        ignore_unavailable, and the name is kept for the judgement (at
        least WARNING).
        """
        try:
            return self.client.get(path, params, what=what, decode=self._decoder(params, repository))
        except EsError as exc:
            if exc.error_type != "snapshot_missing_exception":
                raise
            match = _MISSING.search(str(exc))
            if match is None:
                raise
            names = self.unreadable.setdefault(match.group(1), [])
            if match.group(2) not in names:  # named again by a further request
                names.append(match.group(2))
            log.info("snapshot %s of %s has no readable metadata; listing the rest",
                     match.group(2), match.group(1))
            params = {**params, "ignore_unavailable": "true"}
            return self.client.get(path, params, what=what, decode=self._decoder(params, repository))

    def _listing(self, info, names, now_ms):
        """({repo: [Snapshot]}, {repo: failure}, {repo: window_s}, {repo: complete})."""
        if not names:
            return {}, {}, {}, {}
        params = cluster.listing_params(info, index_details=self.query.sizes, fields=self.fields(info))
        try:
            if info.strategy == cluster.WINDOW and self.query.window_s:
                self._send_current_ahead(names, params)
                if self.query.policy:  # pruned by the cluster, before any metadata is read
                    params["slm_policy_filter"] = self.query.policy
                return self._window_listing(names, params, now_ms)
            if info.strategy == cluster.NEWEST_FIRST and not self.query.policy:
                return self._newest_first_listing(names, params, now_ms)
        except EsError as exc:
            if not plan.rejected_parameter(exc):
                raise
            if info is plan.ASSUMED:  # older than 7.16, or OpenSearch: its version decides
                log.info("the cluster rejected the ES >= 7.16 listing (%s); reading its version", exc)
                raise plan.VersionNeeded() from None
            log.info("the cluster rejected a parameter (%s); falling back to the plain listing", exc)
            params = {k: v for k, v in params.items() if k in cluster.UNIVERSAL
                      and f"[{k}]" not in exc.reason + str(exc)}
        if info.strategy == cluster.WINDOW:  # no window wanted: one request still serves all
            return self._list(names, params) + ({}, {})
        return self._per_repository(names, params) + ({}, {})

    def _list(self, names, params, what="list snapshots"):
        found, failed = {}, {}
        for group in name_groups(names):  # many long names: several requests
            more, bad = self._list_group(group, params, what)
            for name, snaps in more.items():
                found.setdefault(name, []).extend(snaps)
            failed.update(bad)
        return found, failed

    def _list_group(self, names, params, what):
        try:
            return _asked(self._get_listing(path_of("_snapshot", ",".join(names), "*"), params, what,
                                            names[0] if len(names) == 1 else None), names)
        except EsError as exc:
            # Unregistered between GET _snapshot and the listing: ES 8.19.21 and
            # 9.5.2 answer the whole request 404 "[name] missing" (7.17.29: 200).
            gone = [n for n in names if f"[{n}] missing" in exc.reason + str(exc)]
            if exc.error_type != "repository_missing_exception" or not gone:
                raise
            failed = {n: "repository disappeared while reading" for n in gone}
            rest = [n for n in names if n not in gone]
            if not rest:
                return {}, failed
            more, bad = self._list_group(rest, params, what)
            return more, {**failed, **bad}

    def _per_repository(self, names, params):
        found, failed = {}, {}
        for name in names:
            try:
                more, bad = _asked(self._get_listing(path_of("_snapshot", name, "_all"), params,
                                                     "list snapshots", name), (name,))
            except EsError as exc:
                if exc.status is not None and exc.status >= 400 and exc.error_type != "repository_missing_exception":
                    # One request per repository: its error names it (ES 5.6/6.8's
                    # HTTP 500 for a corrupt repository said nothing of which).
                    raise EsError(f"repository '{name}': {exc}", exc.state, exc.status, exc.error_type,
                                  exc.reason) from None
                if exc.error_type != "repository_missing_exception":
                    raise
                failed[name] = "repository disappeared while reading"
                continue
            found.setdefault(name, []).extend(more.get(name, []))
            failed.update(bad)
        return found, failed

    @staticmethod
    def _decoder(params, repository):
        """Body -> ({repo: [Snapshot]}, {repo: failure}), never the whole body as dicts."""
        filtered = "filter_path" in params
        return lambda body, parse_int=None: decode_listing(body, repository, filtered, parse_int)

    def _current(self, names, found, params):
        """Add the running snapshots, from the cluster state (cheap: no
        repository reads), to what the listing found: one that started
        before the look-back window, or behind a newer snapshot on 7.14-7.15,
        must still be judged by --running-*."""
        # The listing's field filter, without the listing's own parameters.
        params = {k: v for k, v in params.items() if k == "filter_path"}
        for group in name_groups(names):  # many long names: several requests
            more, _ = _asked(self.client.get(path_of("_snapshot", ",".join(group), "_current"), params,
                                             what="list running snapshots",
                                             decode=self._decoder(params, group[0] if len(group) == 1 else None)),
                             group)
            for name, snaps in more.items():
                # A completed snapshot here is a phantom (a SUCCESS a minute
                # old would pass for the newest backup): which answer is
                # true cannot be known.
                done = next((s for s in snaps if not s.running), None)
                if done is not None:
                    raise ResponseShapeError(f"the running snapshots (_current) include {done.name[:60]!r} "
                                             f"of repository {name[:60]!r} as {done.state[:24]}, not IN_PROGRESS")
                found.setdefault(name, []).extend(snaps)

    def _newest_first_listing(self, names, params, now_ms):
        """ES 7.14-7.15: every snapshot of each repository, newest first.

        The newest alone settles nothing: since ES 7.8 a snapshot that
        started earlier may have failed after the newest success ended (a
        long full snapshot behind hourly ones), and 7.14-7.15 can neither
        bound a listing by time nor sort by end time.  The cluster loads
        every snapshot's metadata for ``size=1`` too (its only option), so
        one whole listing costs it no more than that first page did; what
        grows is the answer, read one snapshot at a time."""
        found, failed = self._per_repository(names, params)
        self._current([n for n in names if n not in failed], found, params)
        return found, failed, {}, {n: True for n in names}

    def _window_listing(self, names, params, now_ms):
        found, failed, window_of = {}, {}, {}
        complete = {n: False for n in names}
        unsettled, what = list(names), "list snapshots"
        for step in range(WIDENING_STEPS + 1):
            if not unsettled:
                break
            window_s = self.query.window_s * WIDENING ** step
            since = now_ms - window_s * 1000
            # Never a from_sort_value before 1970 ("in the last 5120y"): the
            # whole listing instead, which is the last look.
            bounded = since > 0
            more, bad = self._list(unsettled, {**params, **(cluster.window_params(since) if bounded
                                                             else cluster.WHOLE)}, what=what)
            found.update({n: more.get(n, []) for n in unsettled})
            failed.update(bad)
            window_of.update({n: window_s if bounded else None for n in unsettled})
            complete.update({n: not bounded for n in unsettled})
            unsettled = [n for n in unsettled if n not in failed and bounded
                         and not self._settled(found[n], now_ms)]
            what = "look further back for a success"
        self._long_before_window(names, found, failed, params, now_ms, window_of)
        self._newest_before(unsettled, found, failed, params, now_ms, window_of, complete)
        readable = [n for n in names if n not in failed]
        if readable:
            self._current(readable, found, params)
        if self.query.history or self.query.recent:
            self._history([n for n in readable if window_of[n] is not None], found, params, now_ms,
                          window_of, complete)
        return found, failed, window_of, complete

    def _long_before_window(self, names, found, failed, params, now_ms, window_of):
        """The snapshots that started before the look-back window and ended
        after a success inside it: a long full snapshot that failed after
        the hourly ones succeeded is judged (issue 20 item 1), though the
        window listing, bounded by start time, never lists it.

        One request for every repository that needs it: such a snapshot,
        started before W and ended after E (the end of the newest success
        of its policy, the earliest of those ends), lasted longer than
        E - W.  ES >= 7.16 prunes ``sort=duration&from_sort_value`` by the
        start and end times its repository index holds, before it loads any
        snapshot's metadata (elasticsearch SnapshotPredicates /
        FromSortValuePredicates.forFromSortValue: DURATION has a pre-flight
        predicate on RepositoryData.SnapshotDetails end - start, inclusive
        ``from_sort_value <= duration`` in ascending order; a running
        snapshot, with end time 0, never passes it).  So the cluster loads
        only the snapshots that lasted that long, usually none.  Skipped for
        a repository with no success in its window (the widening and
        _newest_before already read further back), and for one whose
        success was found only by the widening: that success is older than
        -c, so the repository is CRITICAL by its age whatever a failure
        adds, and the request would be pruned by a bound of years.  A policy with no
        success in the window sets no bound: its failure that ended before
        every other policy's newest success may still go unread."""
        policy = self.query.policy
        ahead = now_ms + SKEW_TOLERANCE_MS
        starts, longer = {}, []
        for name in names:
            if name in failed or window_of.get(name) != self.query.window_s:
                continue
            start = now_ms - window_of[name] * 1000
            ends = {}
            for s in found.get(name, ()):
                if s.state in self.query.successes and not s.running and start <= s.start_ms <= ahead \
                        and (not policy or s.policy == policy):
                    ends[s.policy] = max(ends.get(s.policy, s.ended_ms), s.ended_ms)
            if ends and min(ends.values()) > start:
                starts[name] = start
                longer.append(min(ends.values()) - start)
        if not starts:
            return
        query = {**params, "sort": "duration", "order": "asc", "from_sort_value": str(min(longer))}
        more, bad = self._list(list(starts), query, what="look for long snapshots started before the look-back")
        failed.update(bad)
        for name, start in starts.items():
            older = [s for s in more.get(name, ()) if s.start_ms < start and not s.running]
            if older:
                log.info("%d snapshot(s) of %s started before the look-back and ended inside it",
                         len(older), name)
                found.setdefault(name, []).extend(older)

    def _newest_before(self, names, found, failed, params, now_ms, window_of, complete):
        """Before a repository is called empty, it must be known to be: for
        each one whose widest window held no snapshot (of the policy asked
        for), one request for the newest snapshot started before it
        (order=desc, from_sort_value, size=1; pruned by the cluster, which
        skips the windows already read).  None: the repository holds no
        snapshot, and says so without a look-back (window_s None).  One:
        it is judged as the snapshot it is (a success by its age) at every
        verbosity, not as "no snapshot"."""
        policy = self.query.policy
        empty = [n for n in names if not any(not policy or s.policy == policy for s in found.get(n, ()))]
        for name in empty:
            before = now_ms - window_of[name] * 1000 - 1
            query = {**params, "sort": "start_time", "order": "desc", "from_sort_value": str(before), "size": "1"}
            more, bad = self._list([name], query, what="read the newest snapshot before the look-back")
            failed.update(bad)
            if more.get(name):
                found.setdefault(name, []).extend(more[name])
            elif name not in bad and not self.unreadable.get(name):
                window_of[name], complete[name] = None, True

    def _history(self, names, found, params, now_ms, window_of, complete):
        """-v and --failed-in-last N: the newest snapshots started before the
        window, for each repository whose window held fewer than HISTORY
        snapshots (-v) or N completed ones (one request each)."""
        for name in names:
            have = [s for s in found.get(name, ()) if s.start_ms >= now_ms - window_of[name] * 1000]
            wanted = max(HISTORY - len(have) if self.query.history else 0,
                         self.query.recent - sum(1 for s in have if not s.running))
            if wanted <= 0:
                continue
            before = now_ms - window_of[name] * 1000 - 1
            query = {**params, "sort": "start_time", "order": "desc",
                     "from_sort_value": str(before), "size": str(wanted)}
            more, _ = self._list([name], query, what="read older snapshots for -v")
            older = more.get(name, [])
            found.setdefault(name, []).extend(older)
            complete[name] = len(older) < wanted  # the repository holds no more

    def _with_size(self, survey, info):
        """Bytes of the newest completed snapshot, from _status if the listing had none."""
        target = survey.newest_completed
        if not self.query.sizes or target is None or target.size_bytes is not None:
            return survey
        if info.index_details:
            return survey  # ES >= 7.13 said nothing: the size is not known there either
        try:
            payload = self.client.get(path_of("_snapshot", target.repository, target.name, "_status"),
                                      {"filter_path": cluster.STATUS_FILTER}, what="read the snapshot size")
        except EsError as exc:
            log.info("snapshot size not available: %s", exc)
            return survey
        size = parse_status_size(payload)
        if size is None:
            log.info("snapshot size not available: _status carried no total size")
            return survey
        sized = target._replace(size_bytes=size)
        repos = tuple(r._replace(snapshots=tuple(sized if s is target else s for s in r.snapshots))
                      for r in survey.repositories)
        return survey._replace(repositories=repos)


