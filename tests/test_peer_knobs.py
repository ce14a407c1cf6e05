"""Issue 16 items 1-2: --no-snapshots-state and --failed-in-last N, knobs
users of NETWAYS check_elasticsearch rely on; in-process, fixed clock."""
import pytest

from plugin.options import UsageError, parse_settings
from tests.conftest import HOUR_MS, NOW_MS, first_line
from tests.fake_es import Cluster, Snap
from tests.incheck import main_with, perf, run, snap

DAY = 24 * HOUR_MS


# -- --no-snapshots-state -------------------------------------------------------------

@pytest.mark.parametrize("level, code", [("ok", 0), ("warning", 1), ("unknown", 3), ("critical", 2)])
def test_empty_repository_takes_the_no_snapshots_state(level, code):
    check = run({"b": []}, "--no-snapshots-state", level, family="os2")
    assert (check.exitcode, check.summary_str) == (code, "repository 'b' holds no snapshot")


def test_crit_empty_repository_by_default():
    assert run({"b": []}, family="es7.10").exitcode == 2


def test_crit_repository_with_only_failures_is_not_affected():
    check = run({"b": [snap("f", "FAILED")]}, "--no-snapshots-state", "ok", family="os2")
    assert (check.exitcode, check.summary_str) == (2, "f FAILED 1h ago, no successful snapshot (repo b)")


def test_crit_missing_repository_is_not_affected():
    check = run({"b": [snap("s")]}, "-r", "aliyun_auto_snapshot", "--no-snapshots-state", "ok")
    assert check.exitcode == 2 and check.summary_str.startswith("repository 'aliyun_auto_snapshot' not found")


def test_ok_empty_second_repository_with_no_snapshots_state_ok():
    check = run({"a": [snap("a1")], "b": []}, "--no-snapshots-state", "ok")
    assert check.exitcode == 0


def test_unknown_no_snapshots_state_typo_is_a_usage_error():
    code, out, _ = main_with({}, "--no-snapshots-state", "fine")
    assert code == 3 and first_line(out).startswith("ES_SNAPSHOT UNKNOWN - usage: argument --no-snapshots-state")


# -- --failed-in-last N ---------------------------------------------------------------------

def alternating(count=14):
    """Nightly snapshots, newest first: SUCCESS, FAILED, SUCCESS, FAILED, ..."""
    return [snap(f"n{i:02d}", "FAILED" if i % 2 else "SUCCESS", i * DAY + HOUR_MS) for i in range(count)]


def test_warn_failures_among_the_last_seven_though_the_streak_is_zero():
    check = run({"b": alternating()}, "--failed-in-last", "7", "--failed-recent-warning", "2",
                "--failed-recent-critical", "4")
    assert (check.exitcode, check.summary_str) == (1, "3 of the last 7 snapshots not successful (limit 2) (repo b)")
    assert perf(check)["failed_recent"] == "3;2;4;0" and perf(check)["failed_streak"] == "0;;;0"


def test_crit_failures_among_the_last_n_beyond_critical():
    check = run({"b": alternating()}, "--failed-in-last", "10", "--failed-recent-critical", "4")
    assert (check.exitcode, check.summary_str) == (2, "5 of the last 10 snapshots not successful (limit 4) (repo b)")


def test_ok_failed_recent_is_measured_without_thresholds():
    check = run({"b": alternating()}, "--failed-in-last", "5")
    assert check.exitcode == 0 and perf(check)["failed_recent"] == "2;;;0"


def test_ok_partial_mapped_to_ok_is_no_recent_failure():
    snaps = [snap(f"p{i}", "PARTIAL", i * DAY + HOUR_MS, shards_failed=1) for i in range(5)]
    check = run({"b": snaps}, "--failed-in-last", "5", "--failed-recent-warning", "1", "--state-map", "PARTIAL=ok")
    assert check.exitcode == 0 and perf(check)["failed_recent"] == "0;1;;0"


@pytest.mark.parametrize("family, requests", [("es8", 6), ("es7.15", 4), ("es7.10", 3), ("os2", 4)])
def test_failed_recent_is_the_same_on_every_family_at_bounded_cost(family, requests):
    cluster = Cluster(family, {"b": alternating(40)})
    check = run(None, "--failed-in-last", "7", "--no-size", cluster=cluster)
    assert perf(check)["failed_recent"] == "3;;;0"
    # Below 7.16 the window is refused (400) before GET / is asked, and the
    # _current sent ahead next to it goes unused.
    assert len(cluster.log) <= requests + (1 if family == "os2" else 0) + (0 if family == "es8" else 2)
    if family == "es8":
        older = cluster.log[-1]
        assert older["params"]["order"] == "desc" and older["params"]["size"] == "4"  # 3 of the 7 are in the window
        assert older["loads"] == 37  # started before the window: the newer ones are never loaded again


def test_no_failed_recent_label_without_the_option():
    assert "failed_recent" not in perf(run({"b": alternating()}))


@pytest.mark.parametrize("args, message", [
    (["--failed-in-last", "0"], "--failed-in-last 0: give 1 to 100 snapshots"),
    (["--failed-recent-warning", "2"], "--failed-recent-warning/--failed-recent-critical need --failed-in-last N"),
])
def test_unknown_failed_in_last_usage_mistakes(args, message):
    with pytest.raises(UsageError) as caught:
        parse_settings(args, environ={})
    assert str(caught.value) == message


# -- end to end: cli.main in-process (tests/incheck.py) against the simulated cluster -------

def test_e2e_ok_empty_repository_with_no_snapshots_state_ok(inproc):
    server = inproc(Cluster("os2", {"aliyun_auto_snapshot": []}))
    code, out, err = inproc.run("--url", server.url, "--no-snapshots-state", "ok")
    assert (code, first_line(out), err) == (0, "ES_SNAPSHOT OK - repository 'aliyun_auto_snapshot' holds no snapshot", "")


def test_e2e_warn_failures_among_the_last_seven(inproc):
    now = NOW_MS
    snaps = [Snap(f"n{i:02d}", "FAILED" if i % 2 else "SUCCESS", now - i * DAY - HOUR_MS) for i in range(14)]
    server = inproc(Cluster("es9", {"backups": snaps}))
    code, out, err = inproc.run("--url", server.url, "--failed-in-last", "7", "--failed-recent-warning", "2")
    assert (code, first_line(out), err) == (
        1, "ES_SNAPSHOT WARNING - 3 of the last 7 snapshots not successful (limit 2) (repo backups)", "")
    assert " failed_recent=3;2;;0" in out.splitlines()[0]


def test_crit_recent_failures_of_the_deciding_repository_are_not_counted_twice():
    snaps = [snap(f"n{i:02d}", "FAILED" if i in (0, 2) else "SUCCESS", i * DAY + HOUR_MS) for i in range(7)]
    check = run({"b": snaps}, "--failed-in-last", "7", "--failed-recent-warning", "1")
    assert (check.exitcode, check.summary_str) == (2, "n00 FAILED 1h ago (repo b)")
