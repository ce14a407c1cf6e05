"""Which cluster answers, and which snapshot listing it understands.

Elasticsearch rejects query parameters it does not know with HTTP 400, and
the cheap ones arrived version by version (../shared/es-api.md §2, §11):

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


class ClusterInfo(namedtuple("ClusterInfo", "distribution version number")):
    """``distribution`` elasticsearch or opensearch, ``version`` a tuple of
    ints, ``number`` the version as the cluster wrote it."""
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
    return ClusterInfo(distribution=distribution, version=parts, number=number)


def listing_params(info, *, index_details=True):
    """Query parameters every listing on this cluster carries."""
    # No ignore_unavailable: it would drop an unreadable snapshot silently;
    # the reader asks again with it once the cluster has named the snapshot.
    params = {}
    if index_details and info.index_details:
        params["index_details"] = "true"
    return params


def window_params(since_ms):
    """Snapshots started at or after ``since_ms``, oldest first (ES >= 7.16).

    With ``order=desc`` the same ``from_sort_value`` would mean "started
    before", so the ascending order is what makes this a look-back window.
    """
    return {"sort": "start_time", "order": "asc", "from_sort_value": str(since_ms)}


NEWEST_ONLY = {"sort": "start_time", "order": "desc", "size": "1"}
