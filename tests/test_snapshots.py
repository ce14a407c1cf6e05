"""Parsing every recorded response shape, and refusing the wrong ones clearly."""
import json

import pytest

from plugin.cluster import LEGACY, NEWEST_FIRST, WINDOW, parse_cluster_info
from plugin.snapshots import (ResponseShapeError, parse_listing, parse_repositories, parse_snapshot,
                              parse_status_size)
from tests.conftest import FIXTURES


def load(name):
    return json.loads((FIXTURES / name).read_text())


def test_es5_listing():
    grouped, failed = parse_listing(load("elasticsearch-5.4.2-get_snapshots.json"), "test1")
    (snap,) = grouped["test1"]
    assert (snap.name, snap.state, snap.start_ms, snap.duration_s(0)) == ("snapshot_1", "SUCCESS", 1536053353971, 0)
    assert (snap.shards_total, snap.shards_failed, snap.size_bytes) == (10, 0, None)
    assert failed == {}


def test_es5_listing_with_shard_failure():
    grouped, _ = parse_listing(load("elasticsearch-5.4.2-get_snapshots-with_failure.json"), "r")
    (failure,) = grouped["r"][0].failures
    assert (failure.index, failure.shard) == ("index_name", 52)
    assert failure.reason.startswith("IndexShardSnapshotFailedException")


def test_opensearch_listing():
    grouped, _ = parse_listing(load("opensearch-2.0.1-get_snapshots.json"), "my-opensearch-repo")
    (snap,) = grouped["my-opensearch-repo"]
    assert (snap.name, snap.duration_ms, snap.shards_total) == ("my-first-snapshot", 14452, 7)


def test_responses_wrapper_of_8_0_development_builds():
    entry = load("elasticsearch-5.4.2-get_snapshots.json")["snapshots"][0]
    payload = {"responses": [{"repository": "a", "snapshots": [entry]},
                             {"repository": "b", "error": {"type": "repository_exception", "reason": "broken"}}]}
    grouped, failed = parse_listing(payload)
    assert [s.repository for s in grouped["a"]] == ["a"]
    assert failed == {"b": "broken"}


def test_failures_map_of_7_14():
    grouped, failed = parse_listing({"snapshots": [], "failures": {"r2": {"type": "x", "reason": "gone"}}})
    assert (grouped, failed) == ({}, {"r2": "gone"})


def test_index_details_give_the_size():
    entry = dict(load("elasticsearch-5.4.2-get_snapshots.json")["snapshots"][0])
    entry["index_details"] = {"a": {"size_in_bytes": 100, "shard_count": 1}, "b": {"size_in_bytes": 23}}
    grouped, _ = parse_listing({"snapshots": [entry]}, "r")
    assert grouped["r"][0].size_bytes == 123


def test_slm_and_sm_policies():
    base = load("elasticsearch-5.4.2-get_snapshots.json")["snapshots"][0]
    es = parse_listing({"snapshots": [{**base, "metadata": {"policy": "nightly"}}]}, "r")[0]["r"][0]
    os_ = parse_listing({"snapshots": [{**base, "metadata": {"sm_policy": "daily"}}]}, "r")[0]["r"][0]
    assert (es.policy, os_.policy) == ("nightly", "daily")


def test_in_progress_on_6x_has_negative_duration():
    base = load("elasticsearch-5.4.2-get_snapshots.json")["snapshots"][0]
    entry = {**base, "state": "IN_PROGRESS", "end_time_in_millis": 0, "duration_in_millis": -base["start_time_in_millis"]}
    snap = parse_listing({"snapshots": [entry]}, "r")[0]["r"][0]
    now = base["start_time_in_millis"] + 90_000
    assert snap.running and snap.duration_s(now) == 90


@pytest.mark.parametrize("payload, words", [
    ([], "not a JSON object"),
    ({"snapshot": []}, "no 'snapshots' list"),
    ({"snapshots": ["x"]}, "not an object"),
    ({"snapshots": [{"snapshot": "s", "start_time_in_millis": 1}]}, "'state' is missing"),
    ({"snapshots": [{"snapshot": "s", "state": "SUCCESS"}]}, "'start_time_in_millis' is missing"),
    ({"snapshots": [{"snapshot": "s", "state": "SUCCESS", "start_time_in_millis": "1"}]}, "is not a number"),
    ({"snapshots": [{"snapshot": "s", "state": 5, "start_time_in_millis": 1}]}, "'state' is not a string"),
    ({"snapshots": [{"snapshot": "s", "state": "SUCCESS", "start_time_in_millis": True}]}, "not a number"),
    ({"snapshots": [{"snapshot": "s", "state": "SUCCESS", "start_time_in_millis": 1, "shards": {"total": "9"}}]},
     "shard counts"),
    ({"responses": [{"snapshots": []}]}, "names no repository"),
])
def test_wrong_shapes_are_refused_with_a_reason(payload, words):
    with pytest.raises(ResponseShapeError) as err:
        parse_listing(payload, "r")
    assert words in str(err.value)


def test_status_sizes_both_shapes():
    assert parse_status_size(load("elasticsearch-7.x-snapshot_status.json")) == 6024
    assert parse_status_size(load("opensearch-2.x-snapshot_status.json")) == 24488927
    assert parse_status_size({"snapshots": [{"stats": {"total_size_in_bytes": 77}}]}) == 77
    assert parse_status_size({"snapshots": [{"stats": {"total": {"size_in_bytes": -1}}}]}) is None
    assert parse_status_size({"nope": 1}) is None


def test_repositories():
    assert parse_repositories({"b": {"type": "fs"}, "a": {"type": "oss"}}) == ["a", "b"]
    with pytest.raises(ResponseShapeError):
        parse_repositories(["a"])


@pytest.mark.parametrize("fixture, label, strategy", [
    ("elasticsearch-5.4.2-root.json", "Elasticsearch 5.4.2", LEGACY),
    ("elasticsearch-7.13.1-root.json", "Elasticsearch 7.13.1", LEGACY),
    ("opensearch-1.3.7-root.json", "OpenSearch 1.3.7", LEGACY),
])
def test_cluster_info_from_recorded_roots(fixture, label, strategy):
    info = parse_cluster_info(load(fixture))
    assert (info.label, info.strategy) == (label, strategy)


@pytest.mark.parametrize("version, strategy, details", [
    ({"number": "7.14.2"}, NEWEST_FIRST, True), ({"number": "7.16.0"}, WINDOW, True),
    ({"number": "9.1.0"}, WINDOW, True), ({"number": "7.12.1"}, LEGACY, False),
    ({"number": "7.10.2", "distribution": "opensearch"}, LEGACY, False),
    ({"number": "3.1.0", "distribution": "opensearch"}, LEGACY, False),
    ({"number": "8.11.0-SNAPSHOT"}, WINDOW, True),
    ({"number": "8.0.0", "build_flavor": "serverless"}, WINDOW, True),
])
def test_strategy_by_version(version, strategy, details):
    info = parse_cluster_info({"version": version})
    assert (info.strategy, info.index_details) == (strategy, details)


@pytest.mark.parametrize("payload", [None, [], {"version": "8"}, {"version": {"number": 8}},
                                     {"version": {"number": "eight"}}, {"tagline": "x"}])
def test_cluster_info_refuses_what_is_not_elasticsearch(payload):
    with pytest.raises(ResponseShapeError):
        parse_cluster_info(payload)


# -- found by the mutation check of 2026-12-04 ------------------------------------------

def entry(**fields):
    return {"snapshot": "s", "state": "SUCCESS", "start_time_in_millis": 1_000_000, **fields}


def test_duration_without_duration_in_millis_is_end_minus_start():
    snap = parse_snapshot(entry(end_time_in_millis=3_000_000, duration_in_millis=0), "r")
    assert (snap.duration_s(10 ** 7), snap.ended_ms) == (2000, 3_000_000)
    # A completed snapshot without an end time ends at start + duration.
    assert parse_snapshot(entry(duration_in_millis=5000), "r").ended_ms == 1_005_000


@pytest.mark.parametrize("count, ok", [(2 ** 31 - 1, True), (2 ** 31, False), (-1, False)])
def test_shard_counts_are_bounded(count, ok):
    shards = {"total": count, "failed": 0}
    if ok:
        assert parse_snapshot(entry(shards=shards), "r").shards_total == count
    else:
        with pytest.raises(ResponseShapeError, match="shard counts are not numbers"):
            parse_snapshot(entry(shards=shards), "r")
