"""The check against a simulated cluster: the wiring (sockets, timeouts, the
environment, the interpreter) by the real script as a subprocess against
127.0.0.1; verdicts and wording in-process through cli.main (tests/incheck.py),
where the clock is fixed and no interpreter has to start."""
import re
import socket
import time

import pytest

from tests.conftest import NOW_MS, first_line, now_ms, run_check, run_with_fault, runner, t_option
from tests.incheck import main_with
from tests.fake_es import FAMILIES, HOUR_MS, Cluster, Override, Snap

STATUS_LINE = re.compile(r"^ES_SNAPSHOT (OK|WARNING|CRITICAL|UNKNOWN) - ")
CODES = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}


def history(*newest, family="es8", now=NOW_MS, **cluster_kw):
    """Repository 'backups': daily successes, then the given snapshots on top,
    aged from ``now`` (pass now_ms() for the script as a subprocess)."""
    snaps = [Snap(f"daily-{i}", "SUCCESS", now - 3 * HOUR_MS - i * 24 * HOUR_MS) for i in range(3)]
    snaps += [Snap(name, state, now - age_min * 60_000, **kw) for name, state, age_min, kw in newest]
    return Cluster(family, {"backups": snaps}, **cluster_kw)


def check(server, *args, env=None):
    code, out, err = runner(server)("--url", server.url, *args, env=env)
    assert err == "", "nothing may reach stderr"
    assert STATUS_LINE.match(out), out
    assert CODES[STATUS_LINE.match(out).group(1)] == code, "the state word matches the exit code"
    return code, first_line(out), out


@pytest.mark.parametrize("state, extra, code, line", [
    ("SUCCESS", {}, 0, "ES_SNAPSHOT OK - new SUCCESS, 2h old (repo backups)"),
    ("IN_PROGRESS", {}, 0, "ES_SNAPSHOT OK - new IN_PROGRESS for 2h, last success 3h old (repo backups)"),
    ("PARTIAL", {"shards_failed": 2}, 1, "ES_SNAPSHOT WARNING - new PARTIAL 2h ago, 2/5 shards failed (repo backups)"),
    ("FAILED", {"reason": "[backups] access denied"}, 2,
     "ES_SNAPSHOT CRITICAL - new FAILED 2h ago: [backups] access denied (repo backups)"),
    ("INCOMPATIBLE", {}, 2, "ES_SNAPSHOT CRITICAL - new INCOMPATIBLE 2h ago, cannot be restored on this cluster (repo backups)"),
    ("EXPLODED", {}, 3, "ES_SNAPSHOT UNKNOWN - new has unrecognised state 'EXPLODED' (repo backups)"),
])
def test_state_of_newest(inproc, state, extra, code, line):
    # Hour-scale ages: the line must not change while the interpreter starts
    # (minute-exact lines are asserted in-process, tests/test_judgement.py).
    server = inproc(history(("new", state, 120, extra)))
    assert check(server)[:2] == (code, line)


def test_ok_fresh_with_perfdata(inproc):
    server = inproc(history(("new", "SUCCESS", 90, {"duration_ms": 125_000, "size_bytes": 7_000_000})))
    code, line, out = check(server)
    assert (code, line) == (0, "ES_SNAPSHOT OK - new SUCCESS, 1h30m old (repo backups)")
    perf = out.splitlines()[0].split(" | ")[1].split()
    assert perf[0].startswith("age=540") and perf[0].endswith("s;93600;180000;0")
    assert perf[1:] == ["duration=125s;;;0", "failed_streak=0;;;0", "running=0s;93600;180000;0",
                        "shards_failed=0;;;0", "size=7000000B;;;0"]


def test_warn_old(inproc):
    cluster = Cluster("es8", {"backups": [Snap("s1", start_ms=NOW_MS - 30 * HOUR_MS)]})
    code, line, _ = check(inproc(cluster))
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - newest success s1 is 1d6h old, more than 1d2h (repo backups)")


def test_crit_old(inproc):
    cluster = Cluster("es8", {"backups": [Snap("s1", start_ms=NOW_MS - 4 * 24 * HOUR_MS)]})
    code, line, _ = check(inproc(cluster), "-w", "1d", "-c", "2d")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - newest success s1 is 4d old, more than 2d (repo backups)")


def test_ok_future_start(inproc):
    cluster = Cluster("es8", {"backups": [Snap("s1", start_ms=NOW_MS + 5 * 60_000)]})
    assert check(inproc(cluster))[:2] == (0, "ES_SNAPSHOT OK - s1 SUCCESS, 0s old (repo backups)")


def test_crit_unsorted_list(inproc):
    now = NOW_MS
    listed = [Snap("b", "SUCCESS", now - 2 * HOUR_MS), Snap("newest", "FAILED", now - HOUR_MS),
              Snap("a", "SUCCESS", now - 5 * HOUR_MS)]
    server = inproc(Cluster("es6", {"backups": listed}, sorted_listing=False))
    assert check(server)[:2] == (2, "ES_SNAPSHOT CRITICAL - newest FAILED 1h ago (repo backups)")


def test_crit_empty_repository(inproc):
    server = inproc(Cluster("es7.10", {"backups": []}))
    assert check(server)[:2] == (2, "ES_SNAPSHOT CRITICAL - repository 'backups' holds no snapshot")


def test_crit_missing_repository(inproc):
    server = inproc(history())
    assert check(server, "-r", "aliyun_auto_snapshot")[:2] == (
        2, "ES_SNAPSHOT CRITICAL - repository 'aliyun_auto_snapshot' not found "
           "(Alibaba Cloud creates it with the first automatic backup)")


def test_crit_no_repositories(inproc):
    code, line, out = check(inproc(Cluster("es8", {})))
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - no snapshot repository registered")
    assert "|" not in out


def test_crit_two_repositories_one_failed(inproc):
    now = NOW_MS
    cluster = Cluster("es7.17", {
        "a": [Snap("a1", "SUCCESS", now - HOUR_MS)],
        "b": [Snap("b0", "SUCCESS", now - 2 * HOUR_MS), Snap("b1", "FAILED", now - HOUR_MS)]})
    assert check(inproc(cluster))[:2] == (2, "ES_SNAPSHOT CRITICAL - b1 FAILED 1h ago (repo b)")


def test_ok_two_repositories(inproc):
    now = NOW_MS
    cluster = Cluster("es5", {"a": [Snap("a1", "SUCCESS", now - HOUR_MS)],
                              "b": [Snap("b1", "SUCCESS", now - 2 * HOUR_MS)]})
    assert check(inproc(cluster))[:2] == (0, "ES_SNAPSHOT OK - b1 SUCCESS, 2h old (repo b); 2 repositories OK")


# ES 6.8.23's answer for a repository whose index-N is no longer JSON (seen
# on the engine, tests/engine/test_scenarios.py test_two_repositories_one_corrupt).
NOT_X_CONTENT = (b'{"error":{"root_cause":[{"type":"not_x_content_exception","reason":"Compressor detection can '
                 b'only be called on some xcontent bytes or compressed xcontent bytes"}],"type":'
                 b'"not_x_content_exception","reason":"Compressor detection can only be called on some xcontent '
                 b'bytes or compressed xcontent bytes"},"status":500}')


@pytest.mark.parametrize("family", ["es5", "es6", "es7.10", "os2"])
def test_crit_corrupt_repository_named_where_each_is_listed_alone(inproc, family):
    """Below 7.14 and on OpenSearch one request per repository: its error says which."""
    cluster = Cluster(family, {"alpha": [Snap("a1", "SUCCESS", NOW_MS - HOUR_MS)],
                               "broken": [Snap("b1", "SUCCESS", NOW_MS - HOUR_MS)]})
    code, line, where = run_with_fault(inproc, cluster, "^/_snapshot/broken/", Override(500, NOT_X_CONTENT))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - repository 'broken': HTTP 500 from {where} for list "
                               "snapshots: Compressor detection can only be called on some xcontent bytes or "
                               "compressed xcontent bytes")


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_crit_connection_refused():
    port = _closed_port()
    code, out, err = run_check("--url", f"http://127.0.0.1:{port}")
    assert (code, out, err) == (
        2, f"ES_SNAPSHOT CRITICAL - cannot list repositories at 127.0.0.1:{port}: connection refused\n", "")


def test_unknown_401(inproc):
    server = inproc(history(auth={"user": "monitor", "password": "right"}))
    code, line, _ = check(server, "--user", "monitor", env={"ES_PASSWORD": "wrong"})
    assert (code, line) == (3, "ES_SNAPSHOT UNKNOWN - authentication failed at "
                               f"{server.url[7:]} (HTTP 401) as user 'monitor': unable to authenticate user "
                               "for REST request [/]")


def test_ok_basic_auth_from_environment(inproc):
    server = inproc(history(auth={"user": "monitor", "password": "right"}))
    assert check(server, "--user", "monitor", env={"ES_PASSWORD": "right"})[0] == 0


def test_crit_502_html(inproc):
    code, line, where = run_with_fault(inproc, history(), "^/_snapshot", Override(
        502, b"<html><h1>502 Bad Gateway</h1></html>", "text/html"))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - HTTP 502 from {where} for list repositories")


def test_unknown_truncated_json(inproc):
    code, line, where = run_with_fault(inproc, history(), "^/_snapshot/backups",
                                       Override(200, b'{"snapshots":[{"snapshot":"x","st'))
    assert (code, line) == (3, f"ES_SNAPSHOT UNKNOWN - list snapshots at {where}: "
                               "HTTP 200 with a body that is not valid JSON (truncated?)")


def test_unknown_html_login_page_with_200(inproc):
    code, line, where = run_with_fault(inproc, history(), "^/_snapshot$",
                                       Override(200, b"<!DOCTYPE html><html>Sign in</html>", "text/html"))
    assert (code, line) == (3, f"ES_SNAPSHOT UNKNOWN - list repositories at {where}: "
                               "HTTP 200 with HTML instead of JSON (a proxy or a wrong --url?)")


def test_unknown_wrong_types(inproc):
    code, line, _ = run_with_fault(inproc, history(), "^/_snapshot/backups", Override(
        200, b'{"snapshots":[{"snapshot":"x","state":"SUCCESS","start_time_in_millis":"yesterday"}]}'))
    assert (code, line) == (3, "ES_SNAPSHOT UNKNOWN - unexpected answer from the cluster: "
                               "snapshot 'x': field 'start_time_in_millis' is not a number")


@pytest.mark.parametrize("args", [["-w", "2x"], ["-c", "10:20:30"], ["-w", "2h:1h"], ["--bogus"],
                                  ["-t", "0"], ["--url", "ftp://x"], ["--state-map", "PARTIAL=maybe"],
                                  ["--password-file", "/nonexistent/file", "--user", "u"]])
def test_unknown_bad_usage_exits_3(args):
    code, out, err = main_with({}, *args)
    assert (code, err) == (3, "")
    assert out.startswith("ES_SNAPSHOT UNKNOWN - usage: ")
    assert len(out.splitlines()) <= 3 and "Traceback" not in out


def test_unknown_bad_usage_exits_3_from_the_script():
    code, out, err = run_check("--bogus")
    assert (code, err) == (3, "")
    assert out.startswith("ES_SNAPSHOT UNKNOWN - usage: ")
    assert len(out.splitlines()) <= 3 and "Traceback" not in out


def test_help_and_version_exit_3_on_stdout():
    code, out, err = run_check("--help")
    assert (code, err) == (3, "") and out.startswith("usage: check_es_snapshot")
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out, err = run_check("-V")
    assert (code, out, err) == (3, "check_es_snapshot 0.1.0\n", "")


def test_verbose_lists_snapshots_and_reasons(inproc):
    server = inproc(history(("bad", "FAILED", 60, {"reason": "access denied to bucket", "shards_failed": 4})))
    code, out, err = inproc.run("--url", server.url, "-v")
    lines = out.splitlines()
    assert code == 2 and err == ""
    assert lines[0] == "ES_SNAPSHOT CRITICAL - bad FAILED 1h ago: access denied to bucket (repo backups)"
    assert f"cluster: Elasticsearch {FAMILIES['es8'][1]}" in lines
    assert "    reason: access denied to bucket" in lines
    assert any(line.startswith("    shard logs-1[0]: IndexShardSnapshotFailedException") for line in lines)
    assert "    ... and 1 more shard failures" in lines
    assert lines[-1].startswith("| age=") and sum("|" in line for line in lines) == 1


def test_vv_shows_requests_without_secrets(serve):
    server = serve(history(now=now_ms(), auth={"user": "monitor", "password": "s3cret-canary"}))
    code, out, err = run_check("--url", server.url, "--user", "monitor", "-vvv",
                               env={"ES_PASSWORD": "s3cret-canary"})
    assert code == 0 and err == ""
    assert "GET / -> HTTP 200" in out and "GET /_snapshot -> HTTP 200" in out
    assert "s3cret-canary" not in out
    assert "bW9uaXRvcjpzM2NyZXQtY2FuYXJ5" not in out  # the Basic header value


def test_crit_trickling_server_stops_within_timeout(serve):
    cluster = history(now=now_ms())
    cluster.overrides.append(("^/_snapshot/backups", Override(200, b'{"snapshots": []}' * 10, trickle_s=0.5)))
    server = serve(cluster)
    t = t_option(2)
    started = time.monotonic()
    code, line, _ = check(server, "-t", str(t))
    assert time.monotonic() - started < t + 1.5  # interpreter start-up included
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - cannot list snapshots at {server.url[7:]}: "
                               f"no complete answer within {t}s (-t, timed out)")


def test_crit_server_that_never_answers(serve):
    t = t_option(1)
    code, line, where = run_with_fault(serve, history(now=now_ms()), "^/_snapshot$",
                                       Override(200, b"{}", delay_s=10), "-t", str(t))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - cannot list repositories at {where}: "
                               f"no complete answer within {t}s (-t, timed out)")


def test_hostname_and_port_replace_those_of_the_url(serve):
    server = serve(history(now=now_ms()))
    port = server.url.rsplit(":", 1)[1]
    code, out, _ = run_check("--url", "http://elsewhere.invalid:1/", "-H", "127.0.0.1", "-P", port)
    assert code == 0 and out.startswith("ES_SNAPSHOT OK - daily-0 SUCCESS, 3h old (repo backups)")


def test_path_prefix_of_a_reverse_proxy(inproc):
    cluster = history()
    server = inproc(cluster)
    code, out, _ = inproc.run("--url", server.url + "/es")
    assert code == 3  # the simulator has no prefix: what matters is where the plugin asked
    assert cluster.log[0]["path"] == "/es/_snapshot"


def test_ok_with_empty_environment_and_no_terminal(serve):
    server = serve(history(now=now_ms()))
    code, out, err = run_check("--url", server.url, env={"PATH": "/usr/bin:/bin", "LANG": ""})
    assert (code, err) == (0, "") and out.startswith("ES_SNAPSHOT OK - daily-0 SUCCESS, 3h old")


def test_only_reads(inproc):
    """The plugin never writes to the cluster: GET only, whatever the run."""
    cluster = history(("new", "FAILED", 10, {}))
    server = inproc(cluster)
    for args in ([], ["-vvv"], ["-r", "backups"], ["--no-size"]):
        check(server, *args)
    assert {entry["method"] for entry in cluster.log} == {"GET"}
