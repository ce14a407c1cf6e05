"""The request plan (plugin/plan.py): which requests a run sends, in which
order, and that sending fewer changes no verdict."""
import json
import os
import threading
import time

import pytest

from plugin import plan
from plugin.reader import Query
from tests.conftest import HOUR_MS, NOW_MS, first_line, now_ms, run_check, t_option
from tests.fake_es import FAMILIES, Cluster, Override, Server, Snap
from tests.incheck import judged

PRESENT = {"backups": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]}


def paths(cluster):
    return [(e["path"], e["status"]) for e in cluster.log]


def test_ok_with_r_on_es_7_16_and_later_is_the_listings_and_current_alone():
    cluster = Cluster("es8", dict(PRESENT))
    check = judged(cluster, "-r", "backups")
    assert (check.exitcode, check.summary_str) == (0, "s1 SUCCESS, 1h old (repo backups)")
    # _current is sent on a second connection while the listing is under way;
    # the duration request (snapshots started before the window) follows it.
    assert sorted(paths(cluster)) == [("/_snapshot/backups/*", 200), ("/_snapshot/backups/*", 200),
                                      ("/_snapshot/backups/_current", 200)]


def test_ok_without_r_lists_the_repositories_first_but_never_asks_the_version():
    cluster = Cluster("es9", dict(PRESENT))
    judged(cluster)
    assert paths(cluster)[0] == ("/_snapshot", 200)
    assert sorted(paths(cluster)[1:]) == [("/_snapshot/backups/*", 200), ("/_snapshot/backups/*", 200),
                                          ("/_snapshot/backups/_current", 200)]


@pytest.mark.parametrize("family", ["es7.15", "es7.10", "es5", "os2"])
def test_ok_below_7_16_the_refused_window_asks_the_version_then_lists_as_before(family):
    cluster = Cluster(family, dict(PRESENT))
    check = judged(cluster, "-r", "backups", "--no-size")
    assert (check.exitcode, check.summary_str) == (0, "s1 SUCCESS, 1h old (repo backups)")
    # The refused request reads nothing from the repository: 400 comes first.
    # _current, sent next to it, is answered from the cluster state and unused.
    sent = [e for e in cluster.log if not e["path"].endswith("/_current")]
    assert [(e["path"], e["status"]) for e in sent[:2]] == [("/_snapshot/backups/*", 400), ("/", 200)]
    assert sent[0]["loads"] == 0
    assert all(e["loads"] == 0 for e in cluster.log if e["path"].endswith("/_current"))
    assert "/_snapshot" not in [p for p, _ in paths(cluster)]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_crit_missing_repository_named_by_r_keeps_its_registered_hint(family):
    """-r names a repository the cluster does not have: the listing says so
    (404 on 8.14+ and below 7.14, a failure entry on 7.14-8.13), and only
    then GET /_snapshot is asked, for the same verdict as before."""
    cluster = Cluster(family, dict(PRESENT))
    check = judged(cluster, "-r", "gone")
    assert (check.exitcode, check.summary_str) == (2, "repository 'gone' not found (registered: backups)")
    # (the _current sent next to the listing may be answered at any time)
    assert [p for p in paths(cluster) if not p[0].endswith("/_current")][-1] == ("/_snapshot", 200)


@pytest.mark.parametrize("family", ["es8", "es7.17", "es7.10"])
def test_crit_missing_repository_next_to_a_healthy_one_judges_both(family):
    cluster = Cluster(family, dict(PRESENT))
    check = judged(cluster, "-r", "backups", "-r", "gone", "--no-size")
    assert (check.exitcode, check.summary_str) == (2, "repository 'gone' not found (registered: backups)")
    assert "backups_age=3600s;93600;180000;0" in check.perfdata


def test_crit_unreadable_registered_repository_is_still_unreadable_not_missing():
    """A failure entry for a repository that is registered (7.17: a corrupt
    repository) stays "could not be read" after GET /_snapshot."""
    cluster = Cluster("es7.17", {"backups": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)], "broken": []})
    original = cluster.listing

    def listing(repos, spec, query):
        status, body, loads = original([r for r in repos if r != "broken"], spec, query)
        if spec != "_current" and "broken" in repos:
            body["failures"] = {"broken": {"type": "repository_exception", "reason": "[broken] cannot read"}}
        return status, body, loads
    cluster.listing = listing
    check = judged(cluster, "-r", "backups", "-r", "broken")
    assert check.exitcode == 2
    assert check.summary_str.startswith("repository 'broken' could not be read: [broken] cannot read")
    assert ("/_snapshot", 200) in paths(cluster)


def test_ok_verbose_asks_the_version_first_and_shows_it():
    cluster = Cluster("es8", dict(PRESENT))
    check = judged(cluster, "-r", "backups", "-v")
    assert paths(cluster)[0] == ("/", 200)
    assert f"cluster: Elasticsearch {FAMILIES['es8'][1]}" in check.verbose_str


@pytest.mark.parametrize("args, needed", [
    ((), False), (("--format", "openmetrics"), False), (("--slm",), False),
    (("-v",), True), (("--format", "json"), True), (("--health",), True),
])
def test_version_is_asked_only_where_the_run_shows_or_needs_it(args, needed):
    from plugin.options import parse_settings
    query = parse_settings(["-r", "b", *args], environ={}).query
    assert plan.needs_version(query) is needed


def test_no_window_asks_the_version():
    assert plan.needs_version(Query(repositories=("b",), window_s=None)) is True
    assert plan.needs_version(Query(repositories=("b",), window_s=3600)) is False


# -- _current sent ahead, on a second connection (client.send_ahead) ----------------

def read_over_http(cluster, *args):
    """(client, survey) of one read through a real socket to ``cluster``."""
    from plugin.client import EsClient
    from plugin.deadline import Deadline
    from plugin.options import parse_settings
    from plugin.reader import SnapshotReader
    with Server(cluster) as server:
        settings = parse_settings(["--url", server.url, *args], environ={})
        client = EsClient(settings.base_url, deadline=Deadline(30), use_env_proxy=False)
        survey = SnapshotReader(client, settings.query).read(NOW_MS)
        client.session.close()
        return client, survey


def open_sockets():
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except FileNotFoundError:  # the listing's own descriptor, closed by now
            continue
        if target.startswith("socket:"):
            found.append(target)
    return sorted(found)


@pytest.mark.parametrize("family", ["es8", "es7.10"])
def test_ok_send_ahead_leaves_no_thread_or_socket_and_counts_every_request(family):
    threads, sockets = threading.active_count(), open_sockets()
    cluster = Cluster(family, dict(PRESENT))
    client, survey = read_over_http(cluster, "-r", "backups")
    assert survey.repositories[0].snapshots[0].name == "s1"
    assert client.ahead == {}
    deadline = time.monotonic() + 5  # the server's handler threads see the client close
    while (threading.active_count(), open_sockets()) != (threads, sockets) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [t.name for t in threading.enumerate() if "send-ahead" in t.name]
    assert (threading.active_count(), open_sockets()) == (threads, sockets)
    # "N requests" counts what was sent, the _current sent ahead included,
    # whether it was used (ES >= 7.16) or not (below: the plain listing has all).
    assert client.totals()[0] == len(cluster.log) == (3 if family == "es8" else 5)


def test_ok_vv_request_log_is_in_the_plan_order(caplog):
    import logging
    cluster = Cluster("es8", dict(PRESENT))
    listing = cluster.listing

    def slow_listing(repos, spec, query):  # the listing answers 0.5 s late, _current at once
        if spec != "_current":
            time.sleep(0.5)
        return listing(repos, spec, query)
    cluster.listing = slow_listing
    with caplog.at_level(logging.INFO, logger="nagiosplugin.es_snapshot"):
        client, _ = read_over_http(cluster, "-r", "backups")
    # _current went out while the listing was under way, and was answered first ...
    assert [e["path"].split("?")[0] for e in cluster.log] == ["/_snapshot/backups/_current", "/_snapshot/backups/*",
                                                              "/_snapshot/backups/*"]
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GET ")]
    # ... yet it is logged when the plan reads it: after the listings (the
    # window, then the snapshots that started before it and lasted longer).
    assert [line.split("?")[0].split(" ->")[0] for line in lines] == [
        "GET /_snapshot/backups/*", "GET /_snapshot/backups/*", "GET /_snapshot/backups/_current"], lines
    assert "sort=duration" in lines[1] and "sort=start_time" in lines[0]


def test_crit_send_ahead_that_never_answers_ends_within_t(serve):
    t = t_option(3)
    cluster = Cluster("es8", {"backups": [Snap("s1", "SUCCESS", now_ms() - HOUR_MS)]})
    cluster.overrides.append(("^/_snapshot/backups/_current$", Override(200, b"{}", delay_s=30)))
    server = serve(cluster)
    started = time.monotonic()
    code, out, err = run_check("--url", server.url, "-r", "backups", "-t", str(t))
    assert time.monotonic() - started < t + 1.5
    assert (code, first_line(out), err) == (
        2, f"ES_SNAPSHOT CRITICAL - cannot list running snapshots at {server.url[7:]}: "
           f"no complete answer within {t}s (-t, timed out)", "")


# -- GET / refused (a user with monitor_snapshot alone) -------------------------------

FORBIDDEN = Override(403, json.dumps({"error": {"type": "security_exception", "reason": (
    "action [cluster:monitor/main] is unauthorized for user [monitor] with roles [snapshot_monitor]")},
    "status": 403}).encode())


def test_ok_verbose_without_the_right_to_get_root_says_7_16_or_later():
    cluster = Cluster("es8", dict(PRESENT))
    cluster.overrides.append(("^/$", FORBIDDEN))
    check = judged(cluster, "-r", "backups", "-v")
    assert (check.exitcode, check.summary_str) == (0, "s1 SUCCESS, 1h old (repo backups)")
    assert "cluster: Elasticsearch 7.16 or later" in check.verbose_str


@pytest.mark.parametrize("family, args", [("es7.10", ("-v",)), ("es8", ("--health",))])
def test_unknown_without_the_right_to_get_root_where_the_version_decides(family, args):
    cluster = Cluster(family, dict(PRESENT))
    cluster.overrides.append(("^/$", FORBIDDEN))
    check = judged(cluster, "-r", "backups", *args)
    assert check.exitcode == 3
    assert "authorisation failed" in check.summary_str and "cluster:monitor/main" in check.summary_str


def test_ok_nothing_is_sent_ahead_once_a_connection_is_up():
    """Without -r, GET /_snapshot has opened a connection: _current then
    follows the listing on it (a second connection's handshake would cost
    what sending ahead saves)."""
    cluster = Cluster("es8", dict(PRESENT))
    listing = cluster.listing

    def slow_listing(repos, spec, query):  # a _current sent ahead would be answered first
        if spec != "_current":
            time.sleep(0.3)
        return listing(repos, spec, query)
    cluster.listing = slow_listing
    client, _ = read_over_http(cluster)
    assert [e["path"].split("?")[0] for e in cluster.log] == [
        "/_snapshot", "/_snapshot/backups/*", "/_snapshot/backups/*", "/_snapshot/backups/_current"]


def test_ok_json_without_the_right_to_get_root_names_what_is_known_of_the_version():
    from tests.incheck import run_main
    cluster = Cluster("es8", dict(PRESENT))
    cluster.overrides.append(("^/$", FORBIDDEN))
    code, out, err = run_main(cluster, "-r", "backups", "--format", "json")
    document = json.loads(out)
    assert (code, err, document["state"]) == (0, "", "OK")
    assert document["cluster"] == {"distribution": "elasticsearch", "version": "7.16 or later"}
