"""Which cluster answers, and which snapshot listing it understands.

Elasticsearch rejects query parameters it does not know with HTTP 400, and
the cheap ones arrived version by version (docs/api-notes.md):

=====================  ===================================================
ES <= 7.12, OpenSearch  one repository per request, plain listing
ES 7.13                 + ``index_details`` (sizes without ``_status``)
ES 7.14 - 7.15          + several repositories, ``sort``/``order``/``size``
ES >= 7.16              + ``from_sort_value``: the cluster skips snapshots
                        started before the look-back window without
                        loading their metadata from the repository
=====================  ===================================================

Stdlib only: the resource decides, the client sends.
"""
import re
from collections import namedtuple

from .snapshots import ResponseShapeError

LEGACY = "legacy"          # one repository a request, everything listed
NEWEST_FIRST = "newest"    # ES 7.14-7.15: sort desc, size 1, per repository
WINDOW = "window"          # ES >= 7.16: from_sort_value look-back window


class ClusterInfo(namedtuple("ClusterInfo", "distribution version number name", defaults=(None,))):
    """``distribution`` elasticsearch or opensearch, ``version`` a tuple of
    ints, ``number`` the version as the cluster wrote it, ``name`` its
    ``cluster_name`` (None when not known: --state-file's mails then name
    the URL alone)."""
    __slots__ = ()

    @property
    def label(self):
        return f"{'OpenSearch' if self.opensearch else 'Elasticsearch'} {self.number}"

    @property
    def opensearch(self):
        return self.distribution == "opensearch"

    def at_least(self, *version):
        return not self.opensearch and self.version >= version

    @property
    def strategy(self):
        if self.at_least(7, 16):
            return WINDOW
        if self.at_least(7, 14):
            return NEWEST_FIRST
        return LEGACY

    @property
    def index_details(self):
        """Sizes come with the listing (ES >= 7.13), no ``_status`` needed."""
        return self.at_least(7, 13)


_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def parse_cluster_info(payload):
    """ClusterInfo from the body of ``GET /``."""
    version = payload.get("version") if isinstance(payload, dict) else None
    number = version.get("number") if isinstance(version, dict) else None
    if not isinstance(number, str):
        raise ResponseShapeError("'GET /' did not name a version (is this Elasticsearch?)")
    match = _VERSION.match(number)
    if not match:
        raise ResponseShapeError(f"unrecognised version number {number[:40]!r}")
    distribution = version.get("distribution")
    distribution = "opensearch" if distribution == "opensearch" else "elasticsearch"
    parts = tuple(int(p or 0) for p in match.groups())
    if version.get("build_flavor") == "serverless":
        parts = (99, 0, 0)  # serverless: "the version number is not meaningful"
    name = payload.get("cluster_name")
    return ClusterInfo(distribution=distribution, version=parts, number=number,
                       name=name if isinstance(name, str) and name else None)


# What the check reads of each snapshot (snapshots.parse_snapshot), by the
# view that needs it.  filter_path (ES >= 1.6, every OpenSearch) makes the
# cluster send only these: it still reads every snapshot's metadata, but the
# index names, uuids, versions and shard failures nobody shows stay home.
JUDGED = ("snapshot", "repository", "state", "reason", "start_time_in_millis",
          "end_time_in_millis", "duration_in_millis", "shards.total", "shards.failed")
SIZE = ("index_details.*.size_in_bytes",)
POLICY = ("metadata.policy", "metadata.sm_policy")   # SLM, OpenSearch SM
SHARD_FAILURES = ("failures.index", "failures.shard_id", "failures.reason")
# Sent unfiltered in the response whatever the fields (small, rare): a
# repository that could not be read (ES 7.14+ multi-repository listing).
REPOSITORY_FAILURES = ("failures",)
# Parameters every version accepts: kept when a cluster rejects the others.
UNIVERSAL = ("ignore_unavailable", "filter_path")


def snapshot_fields(*, sizes=True, policy=False, shard_failures=False):
    """The per-snapshot fields a run reads: ``policy`` when it filters by
    policy or reports it (JSON), ``shard_failures`` when it shows them (-v,
    JSON), sizes unless --no-size."""
    return JUDGED + (SIZE if sizes else ()) + (POLICY if policy else ()) + \
        (SHARD_FAILURES if shard_failures else ())


def listing_filter(info, fields):
    """``filter_path`` of a get-snapshots request that reads ``fields``.

    Only ES 8.0 development builds wrapped the listing in ``responses``
    (es-api.md §1.2): the wrapper's paths are asked for there only.
    """
    paths = [f"snapshots.{f}" for f in fields] + list(REPOSITORY_FAILURES)
    if info.at_least(8, 0):
        paths += ["responses.repository", "responses.error"] + [f"responses.snapshots.{f}" for f in fields]
    return ",".join(paths)


# _status of one snapshot: only its total size (both stats shapes, es-api.md
# §4), not the per-index and per-shard stats of a snapshot of many indices.
STATUS_FILTER = "snapshots.stats.total.size_in_bytes,snapshots.stats.total_size_in_bytes"


def listing_params(info, *, index_details=True, fields=None):
    """Query parameters every listing on this cluster carries; ``fields``
    (see snapshot_fields) limits the answer to what the check reads."""
    # No ignore_unavailable: it would drop an unreadable snapshot silently;
    # the reader asks again with it once the cluster has named the snapshot.
    params = {}
    if index_details and info.index_details:
        params["index_details"] = "true"
    if fields:
        params["filter_path"] = listing_filter(info, fields)
    return params


def window_params(since_ms):
    """Snapshots started at or after ``since_ms``, oldest first (ES >= 7.16).

    With ``order=desc`` the same ``from_sort_value`` would mean "started
    before", so the ascending order is what makes this a look-back window.
    """
    return {"sort": "start_time", "order": "asc", "from_sort_value": str(since_ms)}


# Every snapshot, oldest first: the widest look-back once a window would start before 1970.
WHOLE = {"sort": "start_time", "order": "asc"}
