"""filter_path: the cluster sends only what the check reads, and what it
drops is never read.

Three proofs: every scenario gives the same output, at every verbosity and
in JSON, whether the simulated cluster honours the filter or ignores it (as
a proxy or a fork might); the fields asked for are exactly those the parser
touches; and the simulated cluster filters as Elasticsearch does.
"""
import json
import re

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from plugin import cluster as cl
from plugin.options import parse_settings
from plugin.output import json_document as json_report
from plugin.snapshots import (ResponseShapeError, decode_listing, parse_listing, parse_snapshot,
                              refill_filtered)
from tests.conftest import HOUR_MS, NOW_MS, now_ms
from tests.fake_es import SCENARIOS, Cluster, Snap, filter_path, scenario
from tests.incheck import judged, main_over_http

FAMILIES = ["es5", "es7.10", "es7.13", "es7.15", "es8", "os2"]
VIEWS = [[], ["-v"], ["-vv"], ["-vvv"], ["--format", "json"], ["--no-size", "-v"],
         ["--slm-policy", "nightly"], ["--slm-policy", "nightly", "--format", "json"]]


def extra_scenario(name):
    if name == "empty":
        return {"backups": []}
    if name == "many_shard_failures":
        return {"backups": [Snap("half", "PARTIAL", NOW_MS - HOUR_MS, shards_failed=7, shards_total=9,
                                 reason="7 shards failed"),
                            Snap("ok", "SUCCESS", NOW_MS - 25 * HOUR_MS)]}
    if name == "policies":
        return {"a": [Snap("n1", "SUCCESS", NOW_MS - HOUR_MS, policy="nightly"),
                      Snap("h1", "FAILED", NOW_MS - 600_000, policy="hourly", reason="boom")],
                "b": [Snap("n2", "PARTIAL", NOW_MS - 2 * HOUR_MS, policy="nightly", shards_failed=1)]}
    raise ValueError(name)


ALL_SCENARIOS = list(SCENARIOS) + ["empty", "many_shard_failures", "policies"]


def repositories(name):
    return scenario(name, NOW_MS) if name in SCENARIOS else extra_scenario(name)


def shown(family, name, argv, honour):
    """What an operator or a script sees of one run, and the requests sent."""
    cluster = Cluster(family, repositories(name))
    cluster.filter_path = honour
    settings = parse_settings(argv, environ={})
    check = judged(cluster, *argv)
    seen = [check.exitcode, check.summary_str, check.perfdata]
    if settings.verbose:
        seen.append(check.verbose_str)
    if settings.format == "json":
        seen.append(json_report(check, check.resources[0], settings.notes))
    return seen, cluster.log


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("name", ALL_SCENARIOS)
def test_output_is_the_same_whether_the_filter_is_honoured_or_not(family, name):
    for argv in VIEWS:
        filtered, log = shown(family, name, argv, honour=True)
        full, _ = shown(family, name, argv, honour=False)
        assert filtered == full, argv
        listings = [e for e in log if e["path"].startswith("/_snapshot/") and e["status"] == 200]
        assert all("filter_path" in e["params"] for e in listings), argv


def normalised(out):
    """-vv output without what differs from run to run: numbers (bytes, ms, ages)."""
    return re.sub(r"\d+", "N", out)


@pytest.mark.parametrize("family", ["es7.10", "os2", "es8"])
@pytest.mark.parametrize("argv", [["-vv"], ["--format", "json"]])
def test_end_to_end_the_same_whether_the_filter_is_honoured_or_not(serve, family, argv):
    """Through HTTP, gzip and the streaming decoder: the whole stdout (cli.main
    in-process, over a real socket)."""
    now = now_ms()
    snaps = [Snap("half", "PARTIAL", now - HOUR_MS, shards_failed=4, reason="4 shards failed"),
             Snap("old", "SUCCESS", now - 30 * HOUR_MS, policy="nightly")]
    cluster = Cluster(family, {"backups": snaps, "other": []})
    server = serve(cluster)
    outputs, listed = [], []
    for honour in (True, False):
        cluster.filter_path = honour
        cluster.log.clear()
        code, out, err = main_over_http("--url", server.url, *argv)
        assert err == ""
        outputs.append((code, normalised(out)))
        listed.append(sum(e["raw"] for e in cluster.log if e["path"].split("?")[0].count("/") == 3))
    assert outputs[0] == outputs[1]
    assert listed[0] < listed[1]  # the filter was honoured the first time, not the second


class Recorder(dict):
    """A snapshot entry that notes every field path the parser reads."""

    def __init__(self, data, seen, prefix=""):
        super().__init__(data)
        self.seen, self.prefix = seen, prefix

    def _wrap(self, key, value):
        path = self.prefix + key
        if isinstance(value, dict):
            return Recorder(value, self.seen, path + ".")
        if isinstance(value, list):
            return [Recorder(v, self.seen, path + ".") if isinstance(v, dict) else v for v in value]
        self.seen.add(path)
        return value

    def get(self, key, default=None):
        return self._wrap(key, super().get(key, default))

    def __getitem__(self, key):
        return self._wrap(key, super().__getitem__(key))

    def values(self):
        return [Recorder(v, self.seen, self.prefix + "*.") if isinstance(v, dict) else v
                for v in super().values()]

    def items(self):
        raise AssertionError("the parser should name the fields it reads")


def test_fields_asked_for_are_the_fields_the_parser_reads():
    """Every field of a full snapshot entry (index details, shard failures,
    user metadata, a reason): the parser touches exactly the listed ones."""
    snap = Snap("s", "PARTIAL", NOW_MS, shards_failed=2, reason="r", policy="nightly")
    for family in ("es8", "os2"):
        entry = Cluster(family).render("backups", snap, index_details=True)
        entry["metadata"]["taken_by"] = "cron"  # user metadata the check never reads
        seen = set()
        parse_snapshot(Recorder(entry, seen), "backups")
        asked = set(cl.snapshot_fields(sizes=True, policy=True, shard_failures=True))
        # metadata holds "policy" on Elasticsearch, "sm_policy" on OpenSearch: both are read
        assert seen | {"metadata.policy", "metadata.sm_policy"} == asked


def test_only_the_views_that_show_a_field_ask_for_it():
    base = set(cl.snapshot_fields(sizes=False))
    assert not base & set(cl.SHARD_FAILURES + cl.POLICY + cl.SIZE)
    assert set(cl.snapshot_fields(sizes=False, shard_failures=True)) - base == set(cl.SHARD_FAILURES)
    assert set(cl.snapshot_fields(sizes=False, policy=True)) - base == set(cl.POLICY)


# The policy is always asked for: the judgement groups snapshots by policy,
# so that one policy's success does not hide another's failure.
@pytest.mark.parametrize("argv, failures, policy", [
    ([], False, True), (["-v"], True, True), (["-vvv"], True, True),
    (["--format", "json"], True, True), (["--slm-policy", "p"], False, True)])
def test_listing_asks_per_view(argv, failures, policy):
    cluster = Cluster("os2", {"b": [Snap("s", "SUCCESS", NOW_MS - HOUR_MS, policy="p")]})
    judged(cluster, *argv)
    (listing,) = [e for e in cluster.log if e["path"] == "/_snapshot/b/_all"]
    paths = listing["params"]["filter_path"].split(",")
    assert ("snapshots.failures.reason" in paths) == failures
    assert ("snapshots.metadata.policy" in paths) == policy
    assert "snapshots.indices" not in paths and "snapshots.index_details.*.size_in_bytes" not in paths


def test_responses_wrapper_is_asked_for_only_where_it_existed():
    es8 = cl.parse_cluster_info({"version": {"number": "8.0.0-SNAPSHOT"}})
    es7 = cl.parse_cluster_info({"version": {"number": "7.10.2"}})
    assert "responses.snapshots.snapshot" in cl.listing_filter(es8, cl.JUDGED)
    assert "responses" not in cl.listing_filter(es7, cl.JUDGED)


def test_status_asks_for_the_total_size_only():
    cluster = Cluster("es6", {"b": [Snap("s", "SUCCESS", NOW_MS - HOUR_MS, size_bytes=12345)]})
    check = judged(cluster)
    (status,) = [e for e in cluster.log if e["path"].endswith("/_status")]
    assert status["params"] == {"filter_path": cl.STATUS_FILTER}
    assert "size=12345B" in " ".join(check.perfdata)


def test_a_fork_that_rejects_filter_path_gets_the_plain_listing():
    """Elasticsearch and OpenSearch accept filter_path on every request
    (BaseRestHandler ALWAYS_SUPPORTED); a fork claiming 8.x that rejects it
    with the 7.16 parameters gets the plain listing, unfiltered."""
    cluster = Cluster("es8", {"b": [Snap("s", "SUCCESS", NOW_MS - HOUR_MS)]})
    cluster.accepts = lambda param: param == "ignore_unavailable"
    check = judged(cluster, *["--no-size"])
    assert check.exitcode == 0, check.summary_str
    log = [e for e in cluster.log if not e["path"].endswith("/_current")]  # sent ahead, unused
    assert [e["status"] for e in log[3:]] == [400, 200]  # after _snapshot, a 400 and /
    assert log[4]["params"] == {}  # strict: ignore_unavailable only once a snapshot is unreadable


# -- the simulated cluster filters as Elasticsearch does ------------------------------

BODY = {"snapshots": [{"snapshot": "a", "state": "SUCCESS", "indices": ["x", "y"], "failures": [],
                       "shards": {"total": 2, "failed": 0, "successful": 2},
                       "index_details": {"logs.2024.05.01": {"size_in_bytes": 7, "shard_count": 1}}}],
        "total": 1, "remaining": 0}


@pytest.mark.parametrize("spec, expected", [
    ("snapshots.snapshot,total", {"snapshots": [{"snapshot": "a"}], "total": 1}),
    ("snapshots.shards.failed", {"snapshots": [{"shards": {"failed": 0}}]}),
    # a field name with dots is one name to "*"
    ("snapshots.index_details.*.size_in_bytes",
     {"snapshots": [{"index_details": {"logs.2024.05.01": {"size_in_bytes": 7}}}]}),
    ("**.size_in_bytes", {"snapshots": [{"index_details": {"logs.2024.05.01": {"size_in_bytes": 7}}}]}),
    ("snapshots.sha*", {"snapshots": [{"shards": {"total": 2, "failed": 0, "successful": 2}}]}),
    ("snapshots.failures.index", {}),           # an array emptied or empty is dropped
    ("nothing.here", {}),
    ("-snapshots,-total", {"remaining": 0}),
    ("-snapshots.indices,-snapshots.shards,-snapshots.index_details,-total,-remaining",
     {"snapshots": [{"snapshot": "a", "state": "SUCCESS", "failures": []}]}),  # kept: was empty
    ("snapshots", {"snapshots": BODY["snapshots"]}),
])
def test_fake_filter_matches_elasticsearch(spec, expected):
    assert filter_path(BODY, spec) == expected


def test_empty_listing_filtered_is_an_empty_object():
    status, body, _ = Cluster("es7.10", {"b": []}).handle("/_snapshot/b/_all", {"filter_path": "snapshots.snapshot"})
    assert (status, body) == (200, {})


def test_errors_are_never_filtered():
    """AbstractRestChannel.newErrorBuilder disables filtering (ES 2.x-9.x, OpenSearch)."""
    status, body, _ = Cluster("os2", {}).handle("/_snapshot/nope/_all", {"filter_path": "snapshots.snapshot"})
    assert status == 404 and body["error"]["type"] == "repository_missing_exception"


# -- the streaming decoder reads what json.loads reads ---------------------------------

entries = st.fixed_dictionaries(
    {"snapshot": st.text(max_size=8), "state": st.sampled_from(["SUCCESS", "FAILED", "PARTIAL"]),
     "start_time_in_millis": st.integers(0, 2**42)},
    optional={"repository": st.sampled_from(["a", "b"]), "duration_in_millis": st.integers(-5, 10**6),
              "reason": st.text(max_size=5), "indices": st.lists(st.text(max_size=4), max_size=3),
              "shards": st.fixed_dictionaries({"total": st.integers(0, 9), "failed": st.integers(0, 9)}),
              "failures": st.lists(st.fixed_dictionaries({"index": st.text(max_size=3),
                                                          "shard_id": st.integers(0, 3)}), max_size=2),
              "metadata": st.dictionaries(st.sampled_from(["policy", "sm_policy", "x"]), st.text(max_size=3))})
bodies = st.fixed_dictionaries({}, optional={
    "snapshots": st.lists(entries, max_size=4), "failures": st.dictionaries(
        st.sampled_from(["r1", "r2"]), st.fixed_dictionaries({"reason": st.text(max_size=4)})),
    "total": st.integers(0, 5), "next": st.text(max_size=4)})


def outcome(call):
    try:
        return call()
    except (ResponseShapeError, ValueError) as exc:
        return type(exc).__name__


@hsettings(max_examples=300, deadline=None)
@given(bodies, st.sampled_from([None, (",", ":"), (", ", ": ")]), st.booleans(), st.integers(0, 400))
def test_decoder_reads_what_json_loads_reads(body, separators, filtered, cut):
    text = json.dumps(body, separators=separators, indent=1 if separators is None else None)
    refill = refill_filtered if filtered else (lambda payload: payload)
    expected = outcome(lambda: parse_listing(refill(json.loads(text)), "r"))
    assert outcome(lambda: decode_listing(text.encode(), "r", filtered)) == expected
    truncated = text[:cut]
    if truncated != text:  # a body cut short is no JSON, however far it got
        assert outcome(lambda: decode_listing(truncated.encode(), "r", filtered)) == "JSONDecodeError"


def test_decoder_keeps_the_wrapper_and_refuses_other_shapes():
    wrapped = {"responses": [{"repository": "a"}, {"repository": "b", "error": {"reason": "broken"}}]}
    assert decode_listing(json.dumps(wrapped).encode(), None, True) == ({}, {"b": "broken"})
    with pytest.raises(ResponseShapeError):
        decode_listing(b'{"message": "ok"}', "r", True)  # a proxy's answer, not a filtered listing
    with pytest.raises(ResponseShapeError):
        decode_listing(b"{}", "r", False)
    assert decode_listing(b" {} ", "r", True) == ({}, {})
