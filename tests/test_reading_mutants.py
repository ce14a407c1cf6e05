"""Survivors of the mutation pass of 2026-12-04 (a sampled AST mutation of reader.py and snapshots.py)
in reader.py and the parsing of snapshots.py: each test below changes a
verdict, a perfdata value, what -v shows or which snapshots are read when
the bound or branch it names is mutated.  End to end against the simulated
cluster where the cluster is involved."""
import json
import re

import pytest

from plugin.snapshots import MAX_MS, SKEW_TOLERANCE_MS, decode_int, parse_snapshot
from tests.conftest import HOUR_MS, NOW_MS, first_line
from tests.fake_es import Cluster, Override, Snap

UNEXPECTED = "ES_SNAPSHOT UNKNOWN - unexpected answer from the cluster: "
LISTING = "^/_snapshot/b/(?!_current)"
# -w 1h -c 2h: a look-back window of 2h + 1h slack = 3h on ES >= 7.16.
WINDOW_MS = 3 * HOUR_MS
ARGS = ("-w", "1h", "-c", "2h")


def run(inproc, cluster, *args):
    server = inproc(cluster)
    code, out, err = server.run("--url", server.url, *args)
    assert err == ""
    return code, out


def perf(out):
    return dict(p.split("=", 1) for p in out.splitlines()[0].split(" | ")[1].split())


def read_count(out):
    return int(re.search(r"^repository b: (\d+) snapshot\(s\) read", out, re.M).group(1))


def history_requests(cluster):
    return [e for e in cluster.log if e["params"].get("order") == "desc" and "from_sort_value" in e["params"]]


def entry(name="s1", **extra):
    body = {"snapshot": name, "repository": "b", "state": "SUCCESS", "start_time_in_millis": NOW_MS - HOUR_MS,
            "end_time_in_millis": NOW_MS - HOUR_MS + 120_000, "duration_in_millis": 120_000,
            "shards": {"total": 1, "failed": 0, "successful": 1}, "failures": []}
    body.update(extra)
    return body


def with_listing(inproc, body, family="es8", *args):
    cluster = Cluster(family, {"b": [Snap("old", "SUCCESS", NOW_MS - 2 * HOUR_MS)]})
    cluster.overrides.append((LISTING, Override(200, body if isinstance(body, bytes) else body.encode())))
    code, out = run(inproc, cluster, *args)
    return code, first_line(out), out


# -- reader.py:396-407, the -v history window --------------------------------------------------

def hourly(count, first_hours=0.5, state="SUCCESS"):
    return [Snap(f"h{i:02d}", state, NOW_MS - int((first_hours + i) * HOUR_MS)) for i in range(count)]


def test_ok_verbose_window_holding_exactly_ten_asks_no_history(inproc):
    """wanted == 0: no request (size=0 is refused by ES >= 7.15 with HTTP 400)."""
    cluster = Cluster("es8", {"b": [Snap(f"m{i}", "SUCCESS", NOW_MS - (i + 1) * 10 * 60_000) for i in range(10)]
                      + hourly(5, first_hours=5)})
    code, out = run(inproc, cluster, *ARGS, "-v")
    assert code == 0 and read_count(out) == 10 and history_requests(cluster) == []


def test_ok_verbose_history_asks_for_the_one_missing(inproc):
    """Nine in the window: one more, the newest before it (wanted == 1 is asked for)."""
    cluster = Cluster("es8", {"b": [Snap(f"m{i}", "SUCCESS", NOW_MS - (i + 1) * 10 * 60_000) for i in range(9)]
                      + hourly(5, first_hours=5)})
    code, out = run(inproc, cluster, *ARGS, "-v")
    assert code == 0 and read_count(out) == 10
    (asked,) = history_requests(cluster)
    assert (asked["params"]["size"], int(asked["params"]["from_sort_value"])) == ("1", NOW_MS - WINDOW_MS - 1)


def test_ok_failed_in_last_satisfied_by_the_window_asks_no_history(inproc):
    cluster = Cluster("es8", {"b": [Snap("new", "SUCCESS", NOW_MS - HOUR_MS),
                                    Snap("f1", "FAILED", NOW_MS - 2 * HOUR_MS)] + hourly(5, first_hours=5)})
    code, out = run(inproc, cluster, *ARGS, "--failed-in-last", "2")
    assert code == 0 and perf(out)["failed_recent"].startswith("1;") and history_requests(cluster) == []


def test_ok_verbose_history_starts_just_before_the_window(inproc):
    """A snapshot started exactly at the window's start is in the window, and
    not read again as history (which would leave one older unread)."""
    at_start = Snap("edge", "SUCCESS", NOW_MS - WINDOW_MS)
    cluster = Cluster("es8", {"b": [Snap("new", "SUCCESS", NOW_MS - HOUR_MS), at_start] + hourly(12, first_hours=4)})
    code, out = run(inproc, cluster, *ARGS, "-v")
    assert code == 0 and read_count(out) == 10
    assert "  ... and" not in out and out.count("  h") == 8  # new, edge, then 8 older


def test_ok_verbose_running_snapshot_just_before_the_window_is_not_in_it(inproc):
    """A running one from _current that started 5 s before the window does
    not count as one the window held: -v still reads nine older ones."""
    running = Snap("stuck", "IN_PROGRESS", NOW_MS - WINDOW_MS - 5_000)
    cluster = Cluster("es8", {"b": [Snap("new", "SUCCESS", NOW_MS - HOUR_MS), running] + hourly(12, first_hours=4)})
    code, out = run(inproc, cluster, *ARGS, "-v")
    assert first_line(out) == "ES_SNAPSHOT CRITICAL - stuck IN_PROGRESS for 3h, more than 2h (repo b)"
    (asked,) = history_requests(cluster)
    assert asked["params"]["size"] == "9"


def test_crit_streak_lower_bound_when_history_filled_its_request(inproc):
    """History returned as many as asked: older ones may exist, the streak is
    a lower bound (JSON failed_streak_is_lower_bound, -v "at least")."""
    failed = [Snap(f"f{i:02d}", "FAILED", NOW_MS - int((0.5 + i) * HOUR_MS)) for i in range(2)]
    old = [Snap(f"o{i:02d}", "FAILED", NOW_MS - (200 + i) * 24 * HOUR_MS) for i in range(12)]
    cluster = Cluster("es8", {"b": failed + old})
    code, out = run(inproc, cluster, *ARGS, "-v")
    assert code == 2 and "  failed streak: at least 10; older snapshots were not read" in out
    code, out = run(inproc, cluster, *ARGS, "--format", "json")
    assert json.loads(out)["repositories"][0]["failed_streak_is_lower_bound"] is True


def test_crit_streak_complete_when_history_holds_fewer_than_asked(inproc):
    failed = [Snap(f"f{i:02d}", "FAILED", NOW_MS - int((0.5 + i) * HOUR_MS)) for i in range(2)]
    old = [Snap(f"o{i:02d}", "FAILED", NOW_MS - (200 + i) * 24 * HOUR_MS) for i in range(7)]
    code, out = run(inproc, Cluster("es8", {"b": failed + old}), *ARGS, "-v")
    assert code == 2 and "failed streak: at least" not in out and "failed_streak=9;" in out


# -- reader.py:223, the skew bound ----------------------------------------------------------------

def test_ok_start_exactly_an_hour_ahead_is_no_skew(inproc):
    cluster = Cluster("es8", {"b": [Snap("ahead", "SUCCESS", NOW_MS + SKEW_TOLERANCE_MS)]})
    code, out = run(inproc, cluster)
    assert (code, first_line(out)) == (0, "ES_SNAPSHOT OK - ahead SUCCESS, 0s old (repo b)")


def test_warn_start_an_hour_and_a_millisecond_ahead_is_skew(inproc):
    cluster = Cluster("es8", {"b": [Snap("ahead", "SUCCESS", NOW_MS + SKEW_TOLERANCE_MS + 1000),
                                    Snap("real", "SUCCESS", NOW_MS - HOUR_MS)]})
    code, out = run(inproc, cluster)
    assert (code, first_line(out)) == (1, "ES_SNAPSHOT WARNING - ahead starts 1h in the future: clock skew on the "
                                          "cluster? (repo b)")


# -- reader.py:425, the size from _status -----------------------------------------------------------

def test_ok_status_without_a_size_leaves_the_size_unknown(inproc):
    cluster = Cluster("es7.10", {"b": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    cluster.overrides.append(("/_status$", Override(200, b'{"snapshots": [{"snapshot": "s1", "stats": {}}]}')))
    code, out = run(inproc, cluster)
    assert (code, first_line(out)) == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo b)")
    assert "size" not in perf(out)


@pytest.mark.parametrize("size, shown", [(2 ** 63 - 1, "9223372036854775807B"), (2 ** 63, None)])
def test_ok_status_size_bounded_by_64_bits(inproc, size, shown):
    cluster = Cluster("es7.10", {"b": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    body = {"snapshots": [{"snapshot": "s1", "stats": {"total": {"size_in_bytes": size}}}]}
    cluster.overrides.append(("/_status$", Override(200, json.dumps(body).encode())))
    code, out = run(inproc, cluster)
    assert code == 0 and perf(out).get("size", "").split(";")[0] == (shown or "")


# -- reader.py:168-169, a cluster without SLM ---------------------------------------------------------

@pytest.mark.parametrize("status, body", [
    (405, b'{"error": "Incorrect HTTP method for uri [/_slm/status] and method [GET], allowed: [POST]", '
          b'"status": 405}'),
    (400, b'{"error": {"type": "illegal_argument_exception", "reason": "invalid uri [/_slm/status]"}, '
          b'"status": 400}'),
])
def test_ok_slm_api_missing_is_a_note(inproc, status, body):
    cluster = Cluster("es8", {"b": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    cluster.overrides.append(("^/_slm/status", Override(status, body)))
    code, out = run(inproc, cluster, "--slm", "-v")
    assert (code, first_line(out)) == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo b)")
    assert f"note: --slm: Elasticsearch 8.15.3 has no SLM API (HTTP {status}; a build without x-pack?)" in out


def test_unknown_slm_status_refused_for_another_reason(inproc):
    cluster = Cluster("es8", {"b": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    body = b'{"error": {"type": "illegal_argument_exception", "reason": "bad request"}, "status": 400}'
    cluster.overrides.append(("^/_slm/status", Override(400, body)))
    code, out = run(inproc, cluster, "--slm")
    assert code == 3 and "HTTP 400" in first_line(out) and "bad request" in first_line(out)


# -- reader.py:309, the only repository asked for disappears -----------------------------------------

def test_crit_repository_unregistered_before_the_listing(inproc):
    cluster = Cluster("es8", {"b": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    body = (b'{"error": {"type": "repository_missing_exception", "reason": "[b] missing"}, "status": 404}')
    cluster.overrides.append((LISTING, Override(404, body)))
    code, out = run(inproc, cluster)
    assert (code, first_line(out)) == (2, "ES_SNAPSHOT CRITICAL - repository 'b' could not be read: repository "
                                          "disappeared while reading")


# -- snapshots.py: duration fallback, time and count bounds, _skip, OutOfRange, index_details, policy ---

@pytest.mark.parametrize("extra", [{"duration_in_millis": 0}, {"duration_in_millis": None}])
def test_ok_duration_from_start_and_end_when_the_cluster_gives_none(inproc, extra):
    code, line, out = with_listing(inproc, json.dumps({"snapshots": [entry(**extra)]}))
    assert code == 0 and perf(out)["duration"] == "120s;;;0"


def test_ok_end_time_at_the_last_millisecond_of_9999(inproc):
    code, line, _ = with_listing(inproc, json.dumps({"snapshots": [entry(end_time_in_millis=MAX_MS)]}))
    assert (code, line) == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo b)")


def test_unknown_end_time_after_9999(inproc):
    code, line, _ = with_listing(inproc, json.dumps({"snapshots": [entry(end_time_in_millis=MAX_MS + 1)]}))
    assert (code, line) == (3, UNEXPECTED + "snapshot 's1': field 'end_time_in_millis' is out of range "
                                            "(not a time between 1970 and 9999)")


@pytest.mark.parametrize("total, code", [(2 ** 31 - 1, 0), (2 ** 31, 3)])
def test_shard_count_bounded_by_31_bits(inproc, total, code):
    shards = {"total": total, "failed": 0, "successful": total}
    got, line, _ = with_listing(inproc, json.dumps({"snapshots": [entry(shards=shards)]}))
    assert got == code
    if code == 3:
        assert line == UNEXPECTED + "snapshot 's1': shard counts are not numbers"


@pytest.mark.parametrize("duration, code", [(-2 ** 63, 0), (-2 ** 63 - 1, 3), (2 ** 63 - 1, 0), (2 ** 63, 3)])
def test_int_fields_bounded_by_64_bits_also_after_a_huge_int(inproc, duration, code):
    """A 4,400-digit int elsewhere makes every int go through decode_int."""
    for huge in ("", ', "x": ' + "9" * 4400):
        body = json.dumps({"snapshots": [entry(duration_in_millis=duration)]})[:-3] + huge + "}]}"
        got, line, _ = with_listing(inproc, body)
        assert got == code, (huge[:10], line)
        if code == 3:
            assert line.startswith(UNEXPECTED + "snapshot 's1': field 'duration_in_millis' is out of range (")


def test_decode_int_bounds():
    assert decode_int(str(-2 ** 63)) == -2 ** 63 and decode_int(str(2 ** 63 - 1)) == 2 ** 63 - 1
    assert repr(decode_int(str(2 ** 63))) == "OutOfRange('92233720368547758...')".replace("...", "08")
    assert repr(decode_int("9" * 25)) == "OutOfRange('99999999999999999999...')"


@pytest.mark.parametrize("prefix", [b"", b" ", b"\n\t "])
def test_ok_body_with_leading_whitespace_is_read_one_snapshot_at_a_time(inproc, prefix):
    code, line, _ = with_listing(inproc, prefix + json.dumps({"snapshots": [entry()]}).encode())
    assert (code, line) == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo b)")


@pytest.mark.parametrize("details", [["i"], "i", 5])
def test_ok_index_details_of_another_shape_leaves_the_size_unknown(inproc, details):
    code, line, out = with_listing(inproc, json.dumps({"snapshots": [entry(index_details=details)]}))
    assert (code, line) == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo b)")
    assert "size" not in perf(out)


@pytest.mark.parametrize("metadata", [None, "nightly", ["nightly"], {"policy": 5}])
def test_policy_of_another_shape_is_none(metadata):
    snap = parse_snapshot(entry(metadata=metadata), "b")
    assert snap.policy == ""


@pytest.mark.parametrize("prefix", ["", " ", "\n\t "])
def test_listing_decoded_one_snapshot_at_a_time_whatever_leads_the_body(prefix):
    """Memory follows the snapshots kept, not the dicts of the whole body:
    8,000 snapshots cost about 2 MB this way, over 10 MB decoded whole."""
    import tracemalloc
    from plugin.snapshots import decode_listing
    snaps = [entry(f"s{i:06d}", start_time_in_millis=NOW_MS - i) for i in range(8000)]
    text = prefix + json.dumps({"snapshots": snaps})
    tracemalloc.start()
    try:
        found, _ = decode_listing(text, "b")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(found["b"]) == 8000 and peak < 6 * 2 ** 20, peak
