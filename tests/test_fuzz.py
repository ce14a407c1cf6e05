"""Hostile input: whatever a server or an operator sends, one line and 0-3.

Each endpoint's body is replaced in turn by arbitrary JSON values or bytes;
the real client and the whole check run in-process (tests/incheck.py: through
responses, no sockets), so hypothesis can try hundreds of bodies in seconds.
"""
import json
import time

import nagiosplugin
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from plugin.options import UsageError, parse_settings
from plugin.durations import DurationError, parse_age_range, parse_duration
from tests.conftest import HOUR_MS, NOW_MS
from tests.fake_es import Cluster, Override, Snap
from tests.incheck import judged

BASE = "http://es.example:9200"
ENDPOINTS = {"root": r"^/$", "repositories": r"^/_snapshot$", "listing": r"^/_snapshot/[^/]+/[^/]+$",
             "status": r"/_status$"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20)
# Near-misses are likelier to reach deep code than random values.
snapshot_like = st.fixed_dictionaries({}, optional={
    "snapshot": json_values | st.text(max_size=10), "state": json_values | st.sampled_from(
        ["SUCCESS", "FAILED", "PARTIAL", "IN_PROGRESS", "INCOMPATIBLE", "", "success"]),
    "start_time_in_millis": json_values | st.integers(-2**63, 2**63),
    "end_time_in_millis": json_values | st.integers(), "duration_in_millis": json_values | st.integers(),
    "shards": json_values, "failures": json_values, "index_details": json_values,
    "metadata": json_values, "repository": json_values, "reason": json_values})
bodies = st.one_of(
    json_values.map(lambda v: json.dumps(v).encode()),
    st.lists(snapshot_like, max_size=3).map(lambda s: json.dumps({"snapshots": s}).encode()),
    st.binary(max_size=200),
)


def healthy_cluster():
    return Cluster("es6", {"backups": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS),
                                       Snap("s0", "FAILED", NOW_MS - 2 * HOUR_MS)]})


# Examples per endpoint and run: drawing the nested bodies costs more than
# the check.  Each CI run draws anew in four stages (Python 3.9, 3.11, 3.13,
# nagiosplugin 1.3.2): 400 bodies per endpoint and test, 3,200 in all.
CHECK_EXAMPLES = 100


def run_with_body(endpoint, body, status=200):
    cluster = healthy_cluster()
    # text/plain whatever the body: the client must judge the bytes, not the header.
    cluster.overrides.append((ENDPOINTS[endpoint], Override(status, body, "text/plain")))
    started = time.monotonic()
    check = judged(cluster, "--url", BASE)  # must not raise: every failure is a result
    return check, time.monotonic() - started


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@settings(max_examples=CHECK_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_any_body_ends_in_one_clean_status(endpoint, body):
    nagiosplugin.Runtime.instance = None
    check, elapsed = run_with_body(endpoint, body)
    assert check.exitcode in (0, 1, 2, 3)
    summary = check.summary_str
    assert summary and "\n" not in summary and "|" not in summary and "Traceback" not in summary
    assert elapsed < 2


# Text a status line must survive: separators, line breaks, NUL, non-ASCII.
nasty_text = st.text(alphabet=st.sampled_from("ab |\n\r\t\x00\u00e9\u2028'\"$<>"), max_size=20) | st.text(max_size=40)
error_bodies = st.one_of(
    bodies,
    st.builds(lambda kind, reason: json.dumps({"error": {"type": kind, "reason": reason}}).encode(),
              st.text(max_size=20), nasty_text),
    st.builds(lambda name: json.dumps({"snapshots": [{"snapshot": name, "start_time_in_millis": 1}]}).encode(),
              nasty_text),
    st.builds(lambda reason: json.dumps({"snapshots": [], "failures": {"backups": {"reason": reason}}}).encode(),
              nasty_text),
)


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
@settings(max_examples=CHECK_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=error_bodies, status=st.sampled_from([200, 400, 401, 403, 404, 429, 500, 502, 503]))
def test_any_status_and_error_body_ends_in_one_clean_status(endpoint, body, status):
    nagiosplugin.Runtime.instance = None
    check, _ = run_with_body(endpoint, body, status)
    assert check.exitcode in (0, 1, 2, 3)
    summary = check.summary_str
    assert summary and "|" not in summary and summary.isascii() and summary.isprintable()


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_duration_parser_accepts_or_explains(text):
    try:
        value = parse_duration(text)
    except DurationError as exc:
        assert str(exc)
    else:
        assert 0 <= value <= 10 * 365 * 86400


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="0123456789.:@~smhdwx -", max_size=16) | st.text(max_size=16))
def test_range_parser_gives_nagiosplugin_a_valid_range(text):
    try:
        spec = parse_age_range(text)
    except DurationError:
        return
    nagiosplugin.Range(spec)  # never raises for what we produce


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=6))
def test_any_argv_is_usage_or_settings(argv):
    try:
        parse_settings(argv, environ={})
    except UsageError:
        pass
    except Exception as exc:  # help or version: the parser's own exits
        assert type(exc).__name__ == "HelpShown"
