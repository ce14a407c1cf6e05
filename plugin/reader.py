"""Reads what the check needs from the cluster, asking for as little as it can.

A check runs every few minutes on every cluster, so the cost per run must not
grow with the repository.  The version decides the requests (see cluster.py):
on ES >= 7.16 one request returns only the snapshots inside a look-back
window and the cluster never loads the metadata of older ones; older
versions and OpenSearch get the plain listing, their only option.
"""
import logging
from collections import namedtuple
from urllib.parse import quote

from . import cluster, slm
from .errors import EsError
from .snapshots import (Repository, SUCCESS, newest_first,
                        parse_listing, parse_repositories, parse_status_size)

log = logging.getLogger("nagiosplugin.es_snapshot")

# How much further back the second request looks, on ES >= 7.16, for a
# repository whose window held no successful snapshot: enough to name the
# last success for the operator, still bounded.
WIDENING = 8


# repositories: empty for every registered one; window_s: look-back in
# seconds or None; sizes: collect bytes (may cost one _status request);
# policy: only snapshots of this SLM / snapshot-management policy;
# slm, health: also read SLM status and policies, the health report.
Query = namedtuple("Query", "repositories window_s sizes policy slm health",
                   defaults=((), None, True, "", False, False))
HEALTH_INDICATORS = ("slm", "repository_integrity")


class Survey(namedtuple("Survey", "info repositories now_ms slm health", defaults=(None, None))):
    """What one run read: ClusterInfo, Repository tuple (in the order asked),
    the clock, and when asked SlmFacts and health Indicators."""
    __slots__ = ()

    @property
    def snapshots(self):
        return [s for repo in self.repositories for s in repo.snapshots]

    @property
    def newest_completed(self):
        done = newest_first(s for s in self.snapshots if not s.running)
        return done[0] if done else None

    @property
    def running(self):
        """The newest snapshot of any repository that is still running, longest first."""
        running = [r.newest for r in self.repositories if r.newest and r.newest.running]
        return min(running, key=lambda s: s.start_ms) if running else None

    @property
    def streak(self):
        """(count, repository) of the longest run of non-successful snapshots."""
        streaks = [(r.failed_streak, r.name) for r in self.repositories if not r.missing]
        return max(streaks, key=lambda item: item[0]) if streaks else (0, "")

    @property
    def stalest(self):
        """Newest success of the repository whose newest success is oldest."""
        successes = [r.newest_success for r in self.repositories if r.newest_success]
        return min(successes, key=lambda s: s.start_ms) if successes else None


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

    def read(self, now_ms):
        info = self._cluster_info()
        registered = parse_repositories(self.client.get("/_snapshot", what="list repositories"))
        wanted = self.query.repositories or tuple(registered)
        present = [name for name in wanted if name in registered]
        found, failed, window_s = self._listing(info, present, now_ms)
        if self.query.policy:
            found = {name: [s for s in snaps if s.policy == self.query.policy]
                     for name, snaps in found.items()}
        repositories = tuple(self._repository(name, name not in registered, found, failed, window_s)
                             for name in wanted)
        survey = Survey(info=info, repositories=repositories, now_ms=now_ms,
                        slm=self._slm(info) if self.query.slm else None,
                        health=self._health(info) if self.query.health else None)
        survey = self._with_size(survey, info)
        count, size, seconds = self.client.totals()
        log.info("%d requests, %d bytes received, %.0f ms waiting for the cluster", count, size, seconds * 1000)
        return survey

    def _slm(self, info):
        if not info.at_least(7, 4):
            raise EsError(f"--slm needs Elasticsearch 7.4 or later, not {info.label}")
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
        return slm.SlmFacts(mode=mode, policies=policies)

    def _health(self, info):
        if not info.at_least(8, 7):
            raise EsError(f"--health needs Elasticsearch 8.7 or later, not {info.label}")
        payload = self.client.get("/_health_report", {"verbose": "false"}, what="read the health report")
        return slm.parse_health(payload, HEALTH_INDICATORS)

    def _cluster_info(self):
        info = cluster.parse_cluster_info(self.client.get("/", what="read the cluster version"))
        log.info("listing strategy for %s: %s", info.label, info.strategy)
        return info

    @staticmethod
    def _repository(name, missing, found, failed, window_s):
        notes = (f"could not be read: {failed[name]}",) if name in failed else ()
        return Repository(name=name, snapshots=newest_first(found.get(name, ())),
                          missing=missing, window_s=window_s, notes=notes)

    def _listing(self, info, names, now_ms):
        """({repo: [Snapshot]}, {repo: failure}, window_s or None)."""
        if not names:
            return {}, {}, None
        params = cluster.listing_params(info, index_details=self.query.sizes)
        try:
            if info.strategy == cluster.WINDOW and self.query.window_s:
                if self.query.policy:  # pruned by the cluster, before any metadata is read
                    params["slm_policy_filter"] = self.query.policy
                return self._window_listing(names, params, now_ms)
            if info.strategy == cluster.NEWEST_FIRST and not self.query.policy:
                return self._newest_first_listing(names, params) + (None,)
        except EsError as exc:
            if exc.status != 400 or "unrecognized parameter" not in exc.reason + str(exc):
                raise
            log.info("the cluster rejected a parameter (%s); falling back to the plain listing", exc)
            params = {"ignore_unavailable": "true"}
        if info.strategy == cluster.WINDOW:  # no window wanted: one request still serves all
            return self._list(names, params) + (None,)
        return self._per_repository(names, params) + (None,)

    def _list(self, names, params):
        found, failed = {}, {}
        for group in name_groups(names):  # many long names: several requests
            payload = self.client.get(path_of("_snapshot", ",".join(group), "*"), params,
                                      what="list snapshots")
            more, bad = parse_listing(payload, group[0] if len(group) == 1 else None)
            for name, snaps in more.items():
                found.setdefault(name, []).extend(snaps)
            failed.update(bad)
        return found, failed

    def _per_repository(self, names, params):
        found, failed = {}, {}
        for name in names:
            try:
                payload = self.client.get(path_of("_snapshot", name, "_all"), params,
                                          what="list snapshots")
            except EsError as exc:
                if exc.error_type != "repository_missing_exception":
                    raise
                failed[name] = "repository disappeared while reading"
                continue
            more, bad = parse_listing(payload, name)
            found.setdefault(name, []).extend(more.get(name, []))
            failed.update(bad)
        return found, failed

    def _newest_first_listing(self, names, params):
        """ES 7.14-7.15: the newest snapshot only, all only when it is no success."""
        found, failed = self._per_repository(names, {**params, **cluster.NEWEST_ONLY})
        unsettled = [n for n in names if n not in failed
                     and not any(s.state == SUCCESS for s in found.get(n, ()))
                     and found.get(n)]
        if unsettled:
            more, bad = self._per_repository(unsettled, params)
            found.update(more)
            failed.update(bad)
        return found, failed

    def _window_listing(self, names, params, now_ms):
        window_s = self.query.window_s
        found, failed = self._list(names, {**params, **cluster.window_params(now_ms - window_s * 1000)})
        unsettled = [n for n in names if n not in failed
                     and not any(s.state == SUCCESS for s in found.get(n, ()))]
        if unsettled:
            window_s *= WIDENING
            since = now_ms - window_s * 1000
            more, bad = self._list(unsettled, {**params, **cluster.window_params(since)})
            found.update({n: more.get(n, []) for n in unsettled})
            failed.update(bad)
        return found, failed, window_s

    def _with_size(self, survey, info):
        """Bytes of the newest completed snapshot, from _status if the listing had none."""
        target = survey.newest_completed
        if not self.query.sizes or target is None or target.size_bytes is not None:
            return survey
        if info.index_details:
            return survey  # ES >= 7.13 said nothing: the size is not known there either
        try:
            payload = self.client.get(path_of("_snapshot", target.repository, target.name, "_status"),
                                      what="read the snapshot size")
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


