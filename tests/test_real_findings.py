"""What the real engines taught (tests/engine/), held here without them.

Each test names the engine and version where the behaviour was seen; the
simulated cluster (tests/fake_es.py) was corrected to behave the same way,
and some tests parse bodies saved from the real engines (fixtures/real/).
"""
import json

import pytest

from plugin.cluster import parse_cluster_info
from plugin.health import parse_health
from plugin.snapshots import decode_listing, parse_listing, parse_repositories, parse_status_size
from tests.conftest import FIXTURES, HOUR_MS, NOW_MS
from tests.fake_es import FAMILIES, Cluster, Snap
from tests.incheck import judged

DAY_MS = 24 * HOUR_MS
REAL = FIXTURES / "real"


def run(cluster, *args):
    return judged(cluster, *args)


# -- an unreadable newest snapshot (issue 11, item 16) -------------------------------
# Elasticsearch 7.17.29: with ignore_unavailable=true, a snapshot whose snap-*.dat is
# gone is left out of the listing without a word; the older success then read OK.

@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_warn_when_the_newest_snapshot_has_no_readable_metadata(family):
    cluster = Cluster(family, {"backups": [
        Snap("older", "SUCCESS", NOW_MS - 2 * HOUR_MS),
        Snap("newest", "SUCCESS", NOW_MS - HOUR_MS, unreadable=True)]})
    check = run(cluster)
    assert check.exitcode == 1
    assert check.summary_str.startswith("snapshot newest has no readable metadata, newest readable older SUCCESS, 2h old")
    # (the 7.16 window a legacy cluster refuses with 400 is no listing)
    listings = [e for e in cluster.log if e["path"].startswith("/_snapshot/backups") and e["status"] != 400
                and not e["path"].endswith("/_current")]
    # Strict first; ignore_unavailable only once the cluster has named the snapshot.
    # ES 5.6.16 answers 500 snapshot_exception with the snapshot_missing_exception as root cause.
    assert "ignore_unavailable" not in listings[0]["params"]
    assert listings[0]["status"] == (500 if family == "es5" else 404)
    assert listings[1]["params"]["ignore_unavailable"] == "true" and listings[1]["status"] == 200


def test_an_unreadable_snapshot_does_not_hide_a_worse_state():
    cluster = Cluster("es7.10", {"backups": [
        Snap("older", "SUCCESS", NOW_MS - 3 * HOUR_MS),
        Snap("broken", "FAILED", NOW_MS - 2 * HOUR_MS, reason="disk full"),
        Snap("newest", "SUCCESS", NOW_MS - HOUR_MS, unreadable=True)]})
    check = run(cluster)
    assert check.exitcode == 2 and check.summary_str.startswith("broken FAILED")


def test_healthy_repository_costs_no_extra_request():
    cluster = Cluster("es8", {"backups": [Snap("s", "SUCCESS", NOW_MS - HOUR_MS)]})
    check = run(cluster)
    # _snapshot, the window listing, the snapshots that lasted longer than it
    # and _current (running snapshots): no retry.
    assert check.exitcode == 0 and len(cluster.log) == 4


# -- ES 7.16-7.17 ignore slm_policy_filter next to from_sort_value -------------------
# Elasticsearch 7.17.29: _snapshot/r/*?slm_policy_filter=p&sort=start_time&order=asc&
# from_sort_value=1 lists snapshots of every policy (8.19.21 filters).  The window
# then held a success of another policy, the check did not widen, and said
# "no snapshot of policy 'nightly' in the last 2d3h" though one was 3 days old.

@pytest.mark.parametrize("family", ["es7.17", "es8"])
def test_policy_success_outside_the_window_is_found_on_every_7_16_plus(family):
    cluster = Cluster(family, {"backups": [
        Snap("nightly-1", "SUCCESS", NOW_MS - 3 * DAY_MS, policy="nightly"),
        Snap("adhoc", "SUCCESS", NOW_MS - HOUR_MS)]})
    check = run(cluster, "--slm-policy", "nightly")
    assert check.exitcode == 2
    assert check.summary_str.startswith("newest success nightly-1 is 3d old")


# -- real bodies parse ----------------------------------------------------------------

def real_bodies(kind):
    return sorted(REAL.glob(f"*/{kind}.json"))


@pytest.mark.parametrize("path", real_bodies("root"), ids=lambda p: p.parent.name)
def test_real_root_bodies_name_their_version(path):
    info = parse_cluster_info(json.loads(path.read_text()))
    engine, _, version = path.parent.name.partition("-")
    assert info.number == version and info.opensearch == (engine == "opensearch")


@pytest.mark.parametrize("path", real_bodies("listing"), ids=lambda p: p.parent.name)
def test_real_listings_parse(path):
    grouped, failed = parse_listing(json.loads(path.read_text()), "conf")
    states = {s.state for snaps in grouped.values() for s in snaps}
    assert not failed and {"SUCCESS", "PARTIAL"} <= states


@pytest.mark.parametrize("path", real_bodies("listing"), ids=lambda p: p.parent.name)
def test_real_filtered_listings_decode_as_they_came(path):
    # Saved as the check receives them (filter_path): the streaming decoder
    # reads the same snapshots as the plain parser.
    streamed, failed = decode_listing(path.read_bytes(), "conf", filtered=True)
    assert not failed and streamed == parse_listing(json.loads(path.read_text()), "conf")[0]


def test_real_engines_of_every_version_were_saved():
    assert sorted(p.name for p in REAL.iterdir()) == [
        "elasticsearch-5.6.16", "elasticsearch-6.8.23", "elasticsearch-7.10.2", "elasticsearch-7.17.29", "elasticsearch-8.19.21",
        "elasticsearch-9.5.2", "opensearch-1.3.20", "opensearch-2.19.6", "opensearch-3.6.0"]


# Every engine, with filter_path, answers an empty repository's listing "{}"
# (the empty snapshots array is dropped), and ES >= 7.14 _current with
# nothing running "{}" too: refilled, it is no snapshot, not a shape error.
@pytest.mark.parametrize("path", real_bodies("empty_listing") + real_bodies("current"),
                         ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_real_empty_filtered_listings_are_no_snapshots(path):
    assert json.loads(path.read_text()) == {}
    assert decode_listing(path.read_bytes(), "empty", filtered=True) == ({}, {})


# ES 7.17.29, 8.19.21, 9.5.2: index_details.*.size_in_bytes keeps an index
# whose name has dots (logs.2026.11.28): its size is counted.
@pytest.mark.parametrize("path", [p for p in real_bodies("listing") if "index_details" in p.read_text()],
                         ids=lambda p: p.parent.name)
def test_real_index_details_with_a_dotted_index_name_give_the_whole_size(path):
    body = json.loads(path.read_text())
    entry = next(e for e in body["snapshots"] if "logs.2026.11.28" in e["index_details"])
    grouped, _ = decode_listing(path.read_bytes(), "conf", filtered=True)
    snap = next(s for s in grouped["conf"] if s.name == entry["snapshot"])
    assert snap.size_bytes == sum(d["size_in_bytes"] for d in entry["index_details"].values())
    assert len(entry["index_details"]) == 2


@pytest.mark.parametrize("path", real_bodies("repositories"), ids=lambda p: p.parent.name)
def test_real_repository_lists_parse(path):
    assert "conf" in parse_repositories(json.loads(path.read_text()))


def test_es5_status_counts_only_the_files_a_snapshot_added():
    # Elasticsearch 5.6.16: _status of a snapshot whose files all came from an
    # earlier one says total_size_in_bytes 0 (6.8.23 says the whole size), so
    # the size perfdata of ES 5.x is the bytes a snapshot added (README).
    body = json.loads((REAL / "elasticsearch-5.6.16" / "status.json").read_text())
    assert body["snapshots"][0]["stats"] == {"total_size_in_bytes": 0}
    assert parse_status_size(body) == 0


@pytest.mark.parametrize("path", [p for p in real_bodies("status") if p.parent.name != "elasticsearch-5.6.16"],
                         ids=lambda p: p.parent.name)
def test_real_status_bodies_give_a_size(path):
    size = parse_status_size(json.loads(path.read_text()))
    assert isinstance(size, int) and size > 0


@pytest.mark.parametrize("path", real_bodies("health_report"), ids=lambda p: p.parent.name)
def test_real_health_reports_parse(path):
    indicators = parse_health(json.loads(path.read_text()), ("slm", "repository_integrity"))
    assert [i.name for i in indicators] == ["repository_integrity"]  # no SLM in these builds


# -- a repository unregistered while the check runs ------------------------------------
# Elasticsearch 9.5.2 and 8.19.21 answer the one multi-repository listing 404
# "[gone] missing": the check said UNKNOWN (HTTP 404) instead of naming the
# repository; 7.17.29 answers 200 with a failures map.

class Vanishing(Cluster):
    """'gone' is unregistered right after the check has listed the repositories."""

    def handle(self, path, query):
        result = super().handle(path, query)
        if path == "/_snapshot":
            self.repositories.pop("gone", None)
        return result


@pytest.mark.parametrize("family", ["es7.17", "es8", "es9", "es7.10", "os2"])
def test_crit_repository_unregistered_while_reading(family):
    snaps = {"gone": [Snap("g", "SUCCESS", NOW_MS - HOUR_MS)], "kept": [Snap("k", "SUCCESS", NOW_MS - HOUR_MS)]}
    check = run(Vanishing(family, snaps))
    assert check.exitcode == 2
    assert check.summary_str.startswith("repository 'gone' could not be read: ")


# -- OpenSearch without its snapshot management plugin ---------------------------------
# OpenSearch 2.19.6 and 3.6.0 (the integ-test zips carry no index-management
# plugin) answer every _plugins/_sm request HTTP 400 "no handler found for uri
# [...] and method [GET]" (a bare string error).  --slm with --slm-policy asks
# _explain first, and that 400 was UNKNOWN instead of the snapshot verdict.

@pytest.mark.parametrize("family", ["os2", "os3"])
@pytest.mark.parametrize("args", [["--slm"], ["--slm", "--slm-policy", "daily"]])
def test_ok_snapshot_verdict_stands_without_the_snapshot_management_plugin(family, args):
    cluster = Cluster(family, {"b": [Snap("daily-1", "SUCCESS", NOW_MS - 3 * HOUR_MS, policy="daily")]})
    cluster.sm_plugin = False
    check = run(cluster, *args)
    assert (check.exitcode, check.summary_str) == (0, "daily-1 SUCCESS, 3h old (repo b)")
    [note] = check.resources[0].survey.extras
    assert note.startswith("--slm: snapshot management is not available (HTTP 400 ") and "no handler found" in note
