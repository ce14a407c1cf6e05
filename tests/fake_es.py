"""A simulated Elasticsearch / OpenSearch cluster on 127.0.0.1.

It answers the few endpoints the plugin reads the way each version family
does (bodies shaped after tests/fixtures/), rejects the query
parameters that version rejects (HTTP 400), compresses when asked, and counts
per request the snapshot metadata a real cluster would load from the
repository: every snapshot it reads before sorting and paging (those excluded
by ``from_sort_value`` are not read) and one read per shard for the
``_status`` of a completed snapshot.  Every 200 honours ``filter_path`` as
Elasticsearch does (see filter_path; ``Cluster.filter_path = False`` ignores
it), and ``index_names`` sets how many indices a snapshot holds.

Used by the end-to-end tests, the benchmark and the README demo::

    python -m tests.fake_es --family es8 --scenario healthy --port 9200
    python -m tests.fake_es --demo            # serve and run the check once
"""
import argparse
import base64
import bisect
import fnmatch
import functools
import gzip
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS

# family -> (distribution, version number)
FAMILIES = {
    "es5": ("elasticsearch", "5.5.3"),      # Alibaba Cloud's oldest offer
    "es6": ("elasticsearch", "6.8.23"),
    "es7.10": ("elasticsearch", "7.10.2"),
    "es7.13": ("elasticsearch", "7.13.1"),
    "es7.15": ("elasticsearch", "7.15.2"),
    "es7.17": ("elasticsearch", "7.17.25"),
    "es8": ("elasticsearch", "8.15.3"),
    "es9": ("elasticsearch", "9.1.0"),
    "os1": ("opensearch", "1.3.7"),
    "os2": ("opensearch", "2.11.0"),
    "os3": ("opensearch", "3.1.0"),
}

_COMMON = {"ignore_unavailable", "verbose", "master_timeout", "pretty", "human",
           "error_trace", "filter_path"}
# Parameter -> first Elasticsearch version that accepts it (es-api.md §2.1).
_ES_PARAMS = {"index_details": (7, 13), "include_repository": (7, 14), "sort": (7, 14),
              "order": (7, 14), "size": (7, 14), "after": (7, 14), "offset": (7, 15),
              "from_sort_value": (7, 16), "slm_policy_filter": (7, 16),
              "index_names": (8, 3), "state": (9, 1)}


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def filter_path(body, spec):
    """``body`` as Elasticsearch sends it for ``?filter_path=spec``.

    Comma-separated dotted paths; ``*`` in a segment is a glob on one field
    name (dots in the name included), ``**`` any number of levels; arrays are
    traversed transparently; a leading ``-`` excludes.  As in Elasticsearch's
    FilterPathBasedFilter, an object or array left empty by an include filter
    is dropped (so an empty listing becomes ``{}``), while an exclude keeps
    what was empty to begin with.  Error bodies are never filtered there
    (AbstractRestChannel.newErrorBuilder): the caller passes only 200s.
    """
    paths = [p.strip() for p in spec.split(",") if p.strip()]
    includes = tuple(tuple(p.split(".")) for p in paths if not p.startswith("-"))
    excludes = tuple(tuple(p[1:].split(".")) for p in paths if p.startswith("-") and len(p) > 1)
    if includes:
        body = _include(body, includes)
        body = {} if body is _DROP else body
    if excludes:
        body = _exclude(body, excludes)
        body = {} if body is _DROP else body
    return body


_DROP = object()


@functools.lru_cache(maxsize=1 << 16)  # the same few field names, snapshot after snapshot
def _step(name, paths):
    """(whole, deeper): does a path end at field ``name``, which go on below it."""
    whole, deeper = False, []
    for path in paths:
        head, rest = path[0], path[1:]
        if head == "**":
            if not rest:
                return True, ()
            deeper.append(path)              # ** spans this level too
            more_whole, more = _step(name, (rest,))
            whole |= more_whole
            deeper.extend(more)
        elif head == name or ("*" in head and fnmatch.fnmatchcase(name, head)):
            if not rest:
                return True, ()
            deeper.append(rest)
    return whole, tuple(deeper)


def _include(value, paths):
    if isinstance(value, list):
        kept = [v for v in (_include(item, paths) for item in value) if v is not _DROP]
        return kept or _DROP
    if not isinstance(value, dict):
        return _DROP  # a scalar where the paths go deeper
    kept = {}
    for key, item in value.items():
        whole, deeper = _step(key, paths)
        item = item if whole else (_include(item, deeper) if deeper else _DROP)
        if item is not _DROP:
            kept[key] = item
    return kept or _DROP


def _exclude(value, paths):
    if isinstance(value, list):
        kept = [v for v in (_exclude(item, paths) for item in value) if v is not _DROP]
        return kept if kept or not value else _DROP
    if not isinstance(value, dict):
        return value
    kept = {}
    for key, item in value.items():
        whole, deeper = _step(key, paths)
        item = _DROP if whole else (_exclude(item, deeper) if deeper else item)
        if item is not _DROP:
            kept[key] = item
    return kept if kept or not value else _DROP


def honours_filter_path(handle):
    """Applies ``filter_path`` to every JSON body a 200 carries (see filter_path)."""
    def filtered(cluster, path, query):
        status, body, loads = handle(cluster, path, query)
        if status == 200 and cluster.filter_path and query.get("filter_path") and isinstance(body, (dict, list)):
            body = filter_path(body, query["filter_path"])
        return status, body, loads
    return filtered


@dataclass
class Snap:
    name: str
    state: str = "SUCCESS"
    start_ms: int = 0
    duration_ms: int = 60_000
    shards_total: int = 5
    shards_failed: int = 0
    size_bytes: int = 5_000_000
    reason: str = ""
    policy: str = ""
    indices: tuple = ("logs-1", "logs-2")
    unreadable: bool = False      # listed in the repository, its metadata blob gone

    def __post_init__(self):
        # A snapshot of no index holds no shard: ``indices: "nomatch-*"`` with
        # ``ignore_unavailable`` answers SUCCESS, indices [], shards 0/0/0 on
        # real ES 7.10.2 and 8.19.21 (tests/engine: test_snapshot_of_no_index).
        if not self.indices:
            self.shards_total = self.shards_failed = self.size_bytes = 0

    @property
    def running(self):
        return self.state == "IN_PROGRESS"


@dataclass
class Override:
    """A fault served instead of the normal answer for matching paths."""
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0          # before the headers
    trickle_s: float = 0.0        # between single bytes of the body
    reset: bool = False           # close the connection mid-body
    times: int = -1               # how many requests it applies to (-1: all)


class Cluster:
    def __init__(self, family="es8", repositories=None, *, auth=None, compress=True,
                 repo_type="fs", sorted_listing=True):
        self.distribution, self.number = FAMILIES[family]
        self.family = family
        self.version = tuple(int(x) for x in self.number.split("."))
        self.repositories = repositories if repositories is not None else {}
        self.auth = auth or {}
        self.compress = compress
        self.repo_type = repo_type
        # False: list snapshots in the order given, to prove the plugin never
        # trusts list order (real clusters sort by start time).
        self.sorted_listing = sorted_listing
        # False: ignore filter_path, as a proxy or a fork might, to prove the
        # plugin reads the same facts from the full body.
        self.filter_path = True
        self.slm_mode = "RUNNING"
        self.policies = {}            # name -> dict(repository, next_ms, last_success, last_failure)
        # OpenSearch >= 2.1 snapshot management: name -> dict(repository, enabled,
        # next_ms, creation=(status, time_ms, message), deletion=(...))
        self.sm_policies = {}
        # False: OpenSearch without its index-management plugin (the integ-test
        # zips of 2.19.6 and 3.6.0): _plugins/_sm has no handler (HTTP 400).
        self.sm_plugin = True
        self.health = {"slm": ("green", "Snapshot Lifecycle Management is running"),
                       "repository_integrity": ("green", "All repositories are healthy.")}
        self.overrides = []           # (regex, Override)
        self._index = {}              # repository -> cached start-time index
        self.log = []                 # one dict per request
        self.lock = threading.Lock()

    def lose(self, repo):
        """The repository's folder wiped (rm -r) while it stays registered.
        Real ES 7.10.2, 8.19.21 and OpenSearch 2.19.6 still list its
        snapshots and can read none: every strict listing answers 404
        snapshot_missing_exception naming the first one, and an empty list
        with ignore_unavailable=true (as for one unreadable snapshot).
        ES 5.6.16 and 6.8.23 read the repository afresh: 200, no snapshot
        at all, exactly like a new repository."""
        if not self.opensearch and self.version < (7, 0):
            self.repositories[repo] = []
            return
        for snap in self.repositories[repo]:
            snap.unreadable = True

    # -- version rules -------------------------------------------------
    @property
    def opensearch(self):
        return self.distribution == "opensearch"

    def es_at_least(self, *version):
        return not self.opensearch and self.version >= version

    def accepts(self, param):
        if param in _COMMON:
            return True
        if self.opensearch:
            return param == "cluster_manager_timeout" and self.version >= (2, 0)
        return param in _ES_PARAMS and self.version >= _ES_PARAMS[param]

    # -- bodies --------------------------------------------------------
    def root(self):
        version = {"number": self.number, "build_hash": "0" * 40, "build_snapshot": False,
                   "build_date": "2024-01-01T00:00:00.000Z", "lucene_version": "9.0.0"}
        if self.opensearch:
            version = {"distribution": "opensearch", **version, "build_type": "tar"}
        elif self.version >= (6, 3):
            version.update(build_flavor="default", build_type="docker")
        if self.opensearch or self.version >= (6, 0):  # seen on 6.8.23-9.5.2, OpenSearch 1.3-3.6
            version.update(minimum_wire_compatibility_version="6.8.0",
                           minimum_index_compatibility_version="6.0.0-beta1")
        tagline = ("The OpenSearch Project: https://opensearch.org/" if self.opensearch
                   else "You Know, for Search")
        return {"name": "node-1", "cluster_name": "sim", "cluster_uuid": "c" * 22,
                "version": version, "tagline": tagline}

    def render(self, repo, snap, index_details):
        body = {"snapshot": snap.name, "uuid": base64.urlsafe_b64encode(snap.name.encode()).decode()[:22]}
        if self.es_at_least(7, 14):
            body["repository"] = repo
        body.update(version_id=7000099, version=self.number, indices=list(snap.indices))
        if self.opensearch or self.es_at_least(7, 9):
            body["data_streams"] = []
        if self.es_at_least(7, 12):  # seen on 7.17.29
            body["feature_states"] = []
        if self.opensearch or self.es_at_least(6, 2):
            body["include_global_state"] = True
        if snap.policy and (self.opensearch or self.es_at_least(7, 3)):
            body["metadata"] = {("sm_policy" if self.opensearch else "policy"): snap.policy}
        body["state"] = snap.state
        if snap.reason:
            body["reason"] = snap.reason
        end = 0 if snap.running else snap.start_ms + snap.duration_ms
        if snap.running:
            # 6.x computes end - start: negative while running; later versions clamp to 0.
            duration = -snap.start_ms if not self.es_at_least(7, 0) and not self.opensearch else 0
        else:
            duration = snap.duration_ms
        body.update(start_time=iso(snap.start_ms), start_time_in_millis=snap.start_ms,
                    end_time=iso(end), end_time_in_millis=end, duration_in_millis=duration)
        body["failures"] = [{"index": snap.indices[0], "index_uuid": "u", "shard_id": i,
                             "reason": f"IndexShardSnapshotFailedException[shard {i} failed]",
                             "node_id": "n1", "status": "INTERNAL_SERVER_ERROR"}
                            for i in range(snap.shards_failed)]
        body["shards"] = {"total": snap.shards_total, "failed": snap.shards_failed,
                          "successful": snap.shards_total - snap.shards_failed}
        if index_details and not snap.running:
            per_index = snap.size_bytes // max(1, len(snap.indices))
            body["index_details"] = {i: {"shard_count": 1, "size_in_bytes": per_index,
                                         "max_segments_per_shard": 1} for i in snap.indices}
        return body

    def status_body(self, repo, snap):
        flat = {"number_of_files": 10, "processed_files": 10,
                "total_size_in_bytes": snap.size_bytes // 3,  # the incremental size there
                "processed_size_in_bytes": snap.size_bytes // 3}
        nested = {"incremental": {"file_count": 3, "size_in_bytes": snap.size_bytes // 3},
                  "total": {"file_count": 10, "size_in_bytes": snap.size_bytes}}
        if self.opensearch or self.es_at_least(7, 0):
            stats = nested
        elif self.es_at_least(6, 4):
            stats = {**flat, **nested}
        else:
            stats = flat
        stats.update(start_time_in_millis=snap.start_ms, time_in_millis=snap.duration_ms)
        state = "STARTED" if snap.running else ("FAILED" if snap.state == "FAILED" else "SUCCESS")
        shards_stats = {"initializing": 0, "started": 0, "finalizing": 0, "done": snap.shards_total,
                        "failed": 0, "total": snap.shards_total}
        # Per index and shard, as 6.8.23 and 7.10.2 answer (a failed shard carries a reason).
        indices = {}
        for number, index in enumerate(snap.indices):
            shard = {"stage": "DONE", "stats": stats}
            if number == 0 and snap.shards_failed:
                shard = {"stage": "FAILURE", "stats": stats, "reason": "primary shard is not allocated"}
            indices[index] = {"shards_stats": shards_stats, "stats": stats, "shards": {"0": shard}}
        return {"snapshots": [{"snapshot": snap.name, "repository": repo, "uuid": "u", "state": state,
                               "include_global_state": True, "shards_stats": shards_stats,
                               "stats": stats, "indices": indices}]}

    # -- request handling ----------------------------------------------
    @honours_filter_path
    def handle(self, path, query):
        """(status, body-dict-or-bytes, metadata loads) for one GET."""
        parts = [unquote(p) for p in path.strip("/").split("/") if p]
        if not parts:
            return 200, self.root(), 0
        if parts[0] == "_slm":
            return self.slm(parts[1:])
        if parts[:2] == ["_plugins", "_sm"]:
            return self.sm(parts[2:])
        if parts[0] == "_health_report":
            if not self.es_at_least(8, 7):
                return _no_handler(path)
            # Indicators the plugin does not judge, as 8.19.21 / 9.5.2 report them.
            others = {"master_is_stable": "The cluster has a stable master node",
                      "disk": "The cluster has enough available disk space.",
                      "shards_capacity": "The cluster has enough room to add new shards."}
            if self.version >= (9, 0):
                others["file_settings"] = "No file-based setting changes have occurred"
            indicators = {name: ("green", symptom) for name, symptom in others.items()}
            indicators.update(self.health)
            return 200, {"status": "green", "cluster_name": "sim", "indicators": {
                name: {"status": status, "symptom": symptom}
                for name, (status, symptom) in indicators.items()}}, 0
        if parts[0] != "_snapshot":
            return 404, _error("index_not_found_exception", f"no such index [{parts[0]}]", 404), 0
        if len(parts) == 1 or (len(parts) == 2 and parts[1] in ("_all", "*")):
            uuid = {"uuid": "r" * 22} if self.es_at_least(7, 12) else {}  # 7.17.29 has it, 7.10.2 not
            return 200, {name: {"type": self.repo_type, "settings": {"location": f"/backup/{name}"}, **uuid}
                         for name in self.repositories}, 0
        unknown = [p for p in query if not self.accepts(p)]
        if unknown:
            # Elasticsearch names every one (BaseRestHandler.unrecognized)
            reason = (f"request [{path}] contains unrecognized parameter{'s' if len(unknown) > 1 else ''}: "
                      + ", ".join(f"[{p}]" for p in unknown))
            return 400, _error("illegal_argument_exception", reason, 400), 0
        repos, missing = self.select_repositories(parts[1])
        if missing and len(parts) == 3 and (7, 14) <= self.version < (8, 14) and not self.opensearch:
            # 200 with a per-repository failures map: seen on 7.17.29; 8.19.21 answers 404
            # (the change is elastic/elasticsearch#107191, taken here to be in 8.14).
            present = [n for n in parts[1].split(",") if n in self.repositories]
            status, body, loads = (self.listing(present, parts[2], query) if present else
                                   (200, {"snapshots": [], **({"total": 0, "remaining": 0}
                                                              if self.version >= (7, 15) else {})}, 0))
            if status == 200:
                error = _error("repository_missing_exception", f"[{missing}] missing", 404)["error"]
                body["failures"] = {missing: {"type": error["type"], "reason": error["reason"]}}
            return status, body, loads
        if missing:
            return 404, _error("repository_missing_exception", f"[{missing}] missing", 404), 0
        if len(parts) == 4 and parts[3] == "_status":
            return self.status(repos[0], parts[2])
        if len(parts) != 3:
            return 400, _error("illegal_argument_exception", "bad path", 400), 0
        return self.listing(repos, parts[2], query)

    def slm(self, parts):
        if parts == ["status"] and self.es_at_least(7, 6):
            return 200, {"operation_mode": self.slm_mode}, 0
        if parts[:1] == ["policy"] and self.es_at_least(7, 4):
            names = parts[1].split(",") if len(parts) > 1 else sorted(self.policies)
            missing = [n for n in names if n not in self.policies]
            if missing:
                return 404, _error("resource_not_found_exception",
                                   f"snapshot lifecycle policy or policies {missing} not found", 404), 0
            return 200, {name: self.policy_body(name) for name in names}, 0
        return _no_handler("/_slm/" + "/".join(parts))

    def sm(self, parts):
        """OpenSearch snapshot management, shapes of the OpenSearch docs' sm-api page."""
        if not self.opensearch or self.version < (2, 1) or not self.sm_plugin or parts[:1] != ["policies"]:
            return _no_handler("/_plugins/_sm/" + "/".join(parts))
        if len(parts) == 1:
            items = [{"_id": f"{n}-sm-policy", "_version": 1, "_seq_no": 0, "_primary_term": 1,
                      "sm_policy": {"name": n, "enabled": p.get("enabled", True), "schema_version": 15,
                                    "creation": {"schedule": {"cron": {"expression": "0 1 * * *",
                                                                       "timezone": "UTC"}}},
                                    "snapshot_config": {"repository": p.get("repository", "backups")}}}
                     for n, p in sorted(self.sm_policies.items())]
            return 200, {"policies": items, "total_policies": len(items)}, 0
        if len(parts) == 3 and parts[2] == "_explain":
            names = [n for n in parts[1].split(",") if n in self.sm_policies]
            if not names:
                return 404, _error("resource_not_found_exception", "no such snapshot management policy", 404), 0
            return 200, {"policies": [self.sm_explain(n) for n in names]}, 0
        return _no_handler("/_plugins/_sm/" + "/".join(parts))

    def sm_explain(self, name):
        policy = self.sm_policies[name]
        body = {"name": name, "policy_seq_no": 0, "policy_primary_term": 1,
                "enabled": policy.get("enabled", True)}
        for part in ("creation", "deletion"):
            entry = {"current_state": f"{part.upper()}_START", "trigger": {"time": policy.get("next_ms", 0)}}
            if policy.get(part):
                status, when, message = policy[part]
                entry["latest_execution"] = {"status": status, "start_time": when - 60_000, "end_time": when,
                                             "info": {"message": message}}
            body[part] = entry
        return body

    def policy_body(self, name):
        policy = self.policies[name]
        body = {"version": 1, "modified_date_millis": 0,
                "policy": {"name": f"<{name}-{{now/d}}>", "schedule": "0 30 1 * * ?",
                           "repository": policy.get("repository", "backups")},
                "next_execution_millis": policy["next_ms"], "stats": {"policy": name}}
        for key in ("last_success", "last_failure"):
            if policy.get(key):
                when, snapshot, *details = policy[key]
                body[key] = {"snapshot_name": snapshot, "time": when}
                if details:
                    body[key]["details"] = details[0]
        return body

    def select_repositories(self, spec):
        names = spec.split(",")
        if len(names) > 1 or any(c in spec for c in "*") or spec == "_all":
            if not self.es_at_least(7, 14):
                return [], spec  # older versions take one repository name, literally
        chosen = []
        for pattern in names:
            if pattern in ("_all", "*"):
                chosen.extend(self.repositories)
            elif "*" in pattern:
                chosen.extend(n for n in self.repositories if fnmatch.fnmatchcase(n, pattern))
            elif pattern in self.repositories:
                chosen.append(pattern)
            else:
                return [], pattern
        return list(dict.fromkeys(chosen)), None

    def _sorted(self, repo):
        """(start times, snapshots) of a repository by start time, cached: the
        simulated repository index, which ES >= 7.16 prunes without loading."""
        snaps = self.repositories[repo]
        cached = self._index.get(repo)
        if cached is None or cached[0] is not snaps or cached[1] != len(snaps):
            ordered = sorted(snaps, key=lambda s: (s.start_ms, s.name))
            cached = (snaps, len(snaps), [s.start_ms for s in ordered], ordered)
            self._index[repo] = cached
        return cached[2], cached[3]

    def listing(self, repos, spec, query):
        if spec == "_current":  # running snapshots only, from the cluster state: no loads
            running = [(r, s) for r in repos for s in self._sorted(r)[1] if s.running]
            body = {"snapshots": [self.render(r, s, False) for r, s in running]}
            if self.es_at_least(7, 15):
                body.update(total=len(running), remaining=0)
            return 200, body, 0
        wanted = spec.split(",")
        order = query.get("order", "asc")
        bound = int(query["from_sort_value"]) if "from_sort_value" in query else None
        by = query.get("sort", "start_time")
        if by not in ("start_time", "duration"):
            bound = None
        # ES 7.16-7.17 apply neither slm_policy_filter nor from_sort_value
        # when both are given: another policy's snapshots come back (seen on
        # 7.17.29 with the ascending window), and so do snapshots newer than
        # a descending bound (7.17.29: order=desc&from_sort_value=<3y ago>
        # &size=1 answered the newest).  8.19.21 applies both.
        ignored = bound is not None and "slm_policy_filter" in query and self.version < (8, 0)
        if ignored:
            bound = None
        candidates = []
        for repo in repos:
            starts, ordered = self._sorted(repo)
            if bound is not None and by == "duration":
                # Pruned by the repository index too (its SnapshotDetails hold
                # start and end times): inclusive, like start_time.
                ordered = [s for s in ordered if (_took(s) >= bound if order == "asc" else _took(s) <= bound)]
            elif bound is not None:  # ES >= 7.16 prunes by the repository index: no loads
                cut = bisect.bisect_left(starts, bound) if order == "asc" else bisect.bisect_right(starts, bound)
                ordered = ordered[cut:] if order == "asc" else ordered[:cut]
            if not self.sorted_listing and "sort" not in query:  # as given, for the list-order tests
                kept = {id(s) for s in ordered}
                ordered = [s for s in self.repositories[repo] if id(s) in kept]
            candidates.extend((repo, s) for s in ordered
                              if any(w in ("_all", "*") or fnmatch.fnmatchcase(s.name, w) for w in wanted))
        # From the repository index: no loads either (ignored on 7.16-7.17 next
        # to from_sort_value: above).
        if "slm_policy_filter" in query and not ignored:
            candidates = [(r, s) for r, s in candidates if s.policy == query["slm_policy_filter"]]
        unreadable = [(r, s) for r, s in candidates if s.unreadable]
        if unreadable and query.get("ignore_unavailable") != "true":
            repo, snap = unreadable[0]
            reason = f"[{repo}:{snap.name}/{snap.name}-uuid] is missing"
            if not self.opensearch and self.version < (6, 0):
                # ES 5.6.16: HTTP 500 snapshot_exception, the missing one its root cause.
                body = _error("snapshot_exception", f"[{repo}:{snap.name}/{snap.name}-uuid] Snapshot could not be read", 500)
                body["error"]["root_cause"] = [{"type": "snapshot_missing_exception", "reason": reason}]
                return 500, body, 0
            body = _error("snapshot_missing_exception", reason, 404)
            # As ES 7.10.2 and 8.19.21 answer once snap-<uuid>.dat is gone.
            body["error"]["caused_by"] = {"type": "no_such_file_exception",
                                          "reason": f"/backup/{repo}/snap-{snap.name}-uuid.dat"}
            return 404, body, 0
        candidates = [(r, s) for r, s in candidates if not s.unreadable]
        loads = sum(1 for _, s in candidates if not s.running)
        if by == "duration":
            candidates.sort(key=lambda rs: (_took(rs[1]), rs[1].name))
        elif len(repos) > 1 and (self.sorted_listing or "sort" in query):
            candidates.sort(key=lambda rs: (rs[1].start_ms, rs[1].name))
        if order == "desc":
            candidates.reverse()
        total = len(candidates)
        size = int(query.get("size", -1))
        if size == 0 and self.es_at_least(7, 15):
            return 400, _error("action_request_validation_exception",
                               "Validation Failed: 1: size must be -1 or greater than 0;", 400), 0
        shown = candidates[:size] if size > 0 else candidates
        details = query.get("index_details") == "true"
        body = {"snapshots": [self.render(r, s, details) for r, s in shown]}
        if self.es_at_least(7, 14) and len(shown) < total:
            body["next"] = base64.urlsafe_b64encode(shown[-1][1].name.encode()).decode()
        if self.es_at_least(7, 15):
            body.update(total=total, remaining=total - len(shown))
        return 200, body, loads

    def status(self, repo, name):
        snap = next((s for s in self.repositories[repo] if s.name == name), None)
        if snap is None:
            return 404, _error("snapshot_missing_exception", f"[{repo}:{name}] is missing", 404), 0
        return 200, self.status_body(repo, snap), (0 if snap.running else snap.shards_total)

    def authorised(self, header):
        if not self.auth:
            return True
        scheme, _, value = (header or "").partition(" ")
        if scheme == "Basic" and "user" in self.auth:
            expected = base64.b64encode(f"{self.auth['user']}:{self.auth['password']}".encode()).decode()
            return value == expected
        if scheme == "ApiKey" and "api_key" in self.auth:
            return value == self.auth["api_key"]
        if scheme == "Bearer" and "bearer" in self.auth:
            return value == self.auth["bearer"]
        return False

    def unauthorised(self):
        if self.opensearch:
            return 401, b"Unauthorized", "text/plain"
        body = _error("security_exception", "unable to authenticate user for REST request [/]", 401)
        return 401, json.dumps(body).encode(), "application/json"

    @property
    def metadata_loads(self):
        return sum(entry["loads"] for entry in self.log)

    def override_for(self, path):
        with self.lock:
            for pattern, override in self.overrides:
                if re.search(pattern, path) and override.times != 0:
                    override.times -= 1 if override.times > 0 else 0
                    return override
        return None


def _took(snap):
    """The duration Elasticsearch sorts and prunes by (end - start): a running
    snapshot has end time 0, so its duration is negative and any
    ``from_sort_value`` of a duration in ascending order leaves it out
    (SnapshotPredicates: ``info.endTime() - info.startTime()``)."""
    return -snap.start_ms if snap.running else snap.duration_ms


def _no_handler(path):
    return 400, {"error": f"no handler found for uri [{path}] and method [GET]"}, 0


def _error(kind, reason, status):
    return {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind,
                      "reason": reason}, "status": status}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sim-es"

    def log_message(self, *args):  # keep test output clean
        pass

    def setup(self):
        super().setup()
        # Headers and body leave in two writes; without this, Nagle's algorithm
        # and the client's delayed ACK add ~40 ms to every answer, which a
        # real cluster (Netty sets TCP_NODELAY) does not.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _record(self, status, size, loads=0, raw=None):
        cluster = self.server.cluster
        with cluster.lock:
            # bytes: as sent (compressed if asked); raw: the JSON before compression
            cluster.log.append({"method": self.command, "path": self.path, "status": status,
                                "bytes": size, "raw": size if raw is None else raw, "loads": loads,
                                "authorization": bool(self.headers.get("Authorization"))})

    def _refuse_write(self):
        self._record(405, 0)
        self._send(405, json.dumps(_error("method_not_allowed", "read-only simulation", 405)).encode())

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse_write

    def do_HEAD(self):
        self._record(200, 0)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        cluster = self.server.cluster
        split = urlsplit(self.path)
        override = cluster.override_for(split.path)
        if override is not None:
            return self._serve_override(override)
        if not cluster.authorised(self.headers.get("Authorization")):
            status, body, ctype = cluster.unauthorised()
            self._record(status, len(body))
            return self._send(status, body, ctype)
        status, payload, loads = cluster.handle(split.path, dict(parse_qsl(split.query)))
        body = json.dumps(payload).encode()
        sent = self._send(status, body)
        self._record(status, sent, loads, raw=len(body))

    def _send(self, status, body, ctype="application/json", extra=None):
        headers = dict(extra or {})
        cluster = self.server.cluster
        if cluster.compress and "gzip" in self.headers.get("Accept-Encoding", "") and len(body) > 256:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
        if cluster.es_at_least(7, 14) and status < 400:
            headers["X-Elastic-Product"] = "Elasticsearch"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)
        return len(body)

    def _serve_override(self, o):
        self._record(o.status, len(o.body))
        if o.delay_s:
            time.sleep(o.delay_s)
        self.send_response(o.status)
        self.send_header("Content-Type", o.content_type)
        self.send_header("Content-Length", str(len(o.body) + (1000 if o.reset else 0)))
        for key, value in o.headers.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            if o.trickle_s:
                for byte in o.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(o.trickle_s)
            else:
                self.wfile.write(o.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        if o.reset:
            self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A client that hung up (the check ended, or closed a connection it
        no longer needed) is no error of the simulation: socketserver would
        print its traceback into the stderr of the test that ran the check."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class _IPv6HTTPServer(_HTTPServer):
    address_family = socket.AF_INET6


class Served:
    """Context manager: an HTTP server answering on a thread of its own
    (the simulated cluster here, the AWS stand-ins in aws_standins.py)."""

    def _serve(self, httpd):
        self.httpd = httpd
        httpd.daemon_threads = True
        # A short poll interval: shutdown() waits for the serving loop to
        # notice, and the default 0.5 s per server added a minute to the suite.
        self.thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class Server(Served):
    """A Cluster served on 127.0.0.1 (or host="::1") in a thread."""

    def __init__(self, cluster, port=0, tls=None, host="127.0.0.1"):
        self.cluster = cluster
        # IPv6-only hosts: the Icinga CheckCommand must reach the cluster on [::1].
        server_class = _IPv6HTTPServer if ":" in host else _HTTPServer
        self._serve(server_class((host, port), Handler))
        self.httpd.cluster = cluster
        self.scheme = "http"
        if tls is not None:  # an ssl.SSLContext
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"

    @property
    def url(self):
        host = self.httpd.server_address[0]
        host = f"[{host}]" if ":" in host else host
        return f"{self.scheme}://{host}:{self.httpd.server_address[1]}"

    def serving(self, cluster):
        """From now on answer as ``cluster`` (a session's servers are reused
        from test to test: tests/conftest.py, serve)."""
        self.cluster = self.httpd.cluster = cluster
        return self


# -- scenarios for the demo and for people trying the plugin ------------------

def index_names(count, day="2024.05.01"):
    """``count`` index names as a daily-index cluster has them on ``day`` (the
    indices-per-snapshot knob: ``Snap(..., indices=index_names(300))``)."""
    return tuple(f"logs-app{i:03d}-{day}" for i in range(count))


def daily(count, now_ms, *, prefix="nightly", every_ms=DAY_MS, last_age_ms=3 * HOUR_MS, **kw):
    """``count`` snapshots, the newest ``last_age_ms`` old, ``every_ms`` apart."""
    snaps = []
    for i in range(count):
        start = now_ms - last_age_ms - i * every_ms
        stamp = datetime.fromtimestamp(start / 1000, tz=timezone.utc).strftime("%Y.%m.%d-%H%M")
        snaps.append(Snap(name=f"{prefix}-{stamp}", start_ms=start, **kw))
    return snaps


def scenario(name, now_ms):
    healthy = daily(7, now_ms)
    if name == "healthy":
        return {"backups": healthy}
    if name == "failed":
        return {"backups": [Snap("nightly-broken", "FAILED", now_ms - HOUR_MS, reason="repository unreachable: access denied")] + healthy}
    if name == "partial":
        return {"backups": [Snap("nightly-partial", "PARTIAL", now_ms - HOUR_MS, shards_failed=2)] + healthy}
    if name == "running":
        return {"backups": [Snap("nightly-running", "IN_PROGRESS", now_ms - 600_000)] + healthy}
    if name == "old":
        return {"backups": daily(5, now_ms, last_age_ms=3 * DAY_MS)}
    if name == "aliyun":
        return {"aliyun_auto_snapshot": daily(7, now_ms, prefix="es-cn-demo", every_ms=HOUR_MS // 2,
                                              last_age_ms=10 * 60_000)}
    if name == "concurrent":
        # ES >= 7.8 runs snapshots concurrently: a full one started 5 h ago
        # fails 10 minutes ago, after the hourly ones that started later
        # succeeded (seen overlapping on real ES 7.10.2 and 8.19.21 with
        # thread_pool.snapshot.max: 4 and a throttled repository).
        full = Snap("full-0000", "FAILED", now_ms - 5 * HOUR_MS, duration_ms=5 * HOUR_MS - 600_000,
                    reason="aborted", policy="full")
        hourly = [Snap(f"hourly-0{h}00", "SUCCESS", now_ms - (5 - h) * HOUR_MS + 60_000, policy="hourly")
                  for h in range(1, 5)]
        return {"backups": [full] + hourly}
    if name == "no_index":
        return {"backups": [Snap("s-zero", "SUCCESS", now_ms - 600_000, duration_ms=0, indices=())] + healthy}
    if name == "none":
        return {}
    raise SystemExit(f"unknown scenario {name!r}")


SCENARIOS = ("healthy", "failed", "partial", "running", "old", "aliyun", "concurrent", "no_index", "none")


def _check_command():
    """The installed check_es_snapshot beside this Python, else the checkout's script."""
    installed = os.path.join(os.path.dirname(sys.executable), "check_es_snapshot")
    if os.path.exists(installed):
        return [installed]
    return [sys.executable, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                         "check_es_snapshot.py")]


def _demo(args):
    """Run the check against each scenario. Exit 0 when every run behaved like a
    plugin (exit code 0-3, one status line), whatever state it reported."""
    behaved = True
    for name in (args.scenario,) if args.scenario else ("healthy", "running", "failed", "old"):
        cluster = Cluster(_family(args, name), scenario(name, int(time.time() * 1000)))
        with Server(cluster) as server:
            command = [*_check_command(), "--url", server.url, *args.check_args]
            print(f"$ check_es_snapshot --url {server.url} {' '.join(args.check_args)}"
                  f"   # simulated {cluster.distribution} {cluster.number}, scenario {name!r}")
            result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
            print(result.stdout + result.stderr, end="")
            print(f"exit code {result.returncode}\n")
            behaved &= result.returncode in (0, 1, 2, 3) and result.stdout.startswith("ES_SNAPSHOT ")
    return 0 if behaved else 1


def _family(args, name):
    """Alibaba Cloud's offer is Elasticsearch 7.10 (as the README's example
    says), unless --family names another."""
    return args.family or ("es7.10" if name == "aliyun" else "es8")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tests.fake_es", description=__doc__.split("\n\n")[0])
    parser.add_argument("--family", choices=sorted(FAMILIES),
                        help="version family (default: es7.10 for --scenario aliyun, else es8)")
    parser.add_argument("--scenario", choices=SCENARIOS)
    parser.add_argument("--port", type=int, default=9200)
    parser.add_argument("--demo", action="store_true",
                        help="serve on a free port, run the check against it, print, exit")
    parser.add_argument("check_args", nargs="*", help="with --demo: extra arguments for the check")
    args = parser.parse_args(argv)
    if args.demo:
        return _demo(args)
    cluster = Cluster(_family(args, args.scenario or "healthy"),
                      scenario(args.scenario or "healthy", int(time.time() * 1000)))
    with Server(cluster, port=args.port) as server:
        print(f"simulated {cluster.distribution} {cluster.number} at {server.url} (Ctrl-C stops)")
        try:
            server.thread.join()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
