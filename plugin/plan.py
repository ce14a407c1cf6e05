"""Which requests a run sends, and in which order: as few one after another
as a correct verdict allows.

Over a WAN every request is a round trip.  A plain check on ES >= 7.16
needs the listing and ``_current`` only; it asks for neither the version
(``GET /``) nor the registered repositories (``GET /_snapshot``) first:

- The version: the ES >= 7.16 listing is sent first.  Every older
  Elasticsearch and every OpenSearch answers a parameter it does not know
  with HTTP 400 "unrecognized parameter" (BaseRestHandler.unrecognized),
  before it reads a repository; only then is ``GET /`` asked and the
  listing its version calls for sent. A run that shows the version (-v,
  JSON) or names the cluster (--state-file: the mail says which), or whose
  requests depend on more than "7.16 or later" (--health: 8.7), or that has
  no look-back window, asks ``GET /`` first, as before; for -v and JSON a
  403 there (a user with ``monitor_snapshot`` alone) is no failure: the
  output then says "7.16 or later" for the version.
- The repositories, when -r names them: a missing one makes the listing
  fail (404 ``repository_missing_exception`` on 8.14 and later, a failure
  entry on 7.14 to 8.13, 404 on the per-repository listing of older
  versions), and only then is ``GET /_snapshot`` asked, for the verdict
  "not found" and its "registered: a, b" hint.

Stdlib only: the reader sends, this module decides.
"""
from .cluster import ClusterInfo

# What a cluster that accepted the ES >= 7.16 listing is known to be.  The
# version tuple only answers ClusterInfo.at_least: 8.0 keeps the listing's
# filter_path fit for the 8.0 development builds' "responses" wrapper too
# (paths that match nothing cost nothing), and every question the reader
# asks of a 7.16+ cluster without GET / (index_details, SLM 7.4/7.6) is
# answered as for 7.16.  --health (8.7) never runs on it (needs_version).
ASSUMED = ClusterInfo(distribution="elasticsearch", version=(8, 0, 0), number="7.16 or later")


def needs_version(query):
    """Whether the run asks ``GET /`` before the listing."""
    return bool(query.verbose > 0 or query.format == "json" or query.health or not query.window_s
                or query.cluster_name)


def may_assume(query):
    """Whether the run can do with ASSUMED when GET / is refused (HTTP 403):
    the version only labels its output.  --health asks by version (8.7) and
    a run without a window lists everything by version."""
    return bool(query.window_s and not query.health)


def rejected_parameter(exc):
    """The 400 a cluster answers to a listing parameter it does not know."""
    return exc.status == 400 and "unrecognized parameter" in exc.reason + str(exc)


class VersionNeeded(Exception):
    """The cluster refused the ES >= 7.16 listing: ask its version."""
