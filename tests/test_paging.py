"""--state-file: what is news (paging.decide), how the mail reads, and the
state file's own faults (statefile.py), in-process with an explicit clock."""
import json
import os
import stat

import pytest

from plugin import paging
from plugin.paging import (AGAIN, NEW, REASON_CHANGE, RECOVERED, REPEAT, STATE_CHANGE, Outcome,
                           Paging, bookkeeping, decide, reason_key)
from plugin.statefile import StateFile, StateFileError

T0 = 1_800_000_000.0
URL = "http://es.example.com:9200"
FAILED_2 = "CRITICAL: nightly-2 FAILED 2h ago: disk full (repo backups)"


def outcome(state, status, problems=None, name="prod-logs"):
    if problems is None:
        problems = [] if state == "OK" else [f"{state}: {status}"]
    return Outcome(state, status, tuple(problems), f"ES_SNAPSHOT {state} - {status}\n", name)


OK = outcome("OK", "nightly-1 SUCCESS, 3h old (repo backups)")
FAILED = outcome("CRITICAL", "nightly-2 FAILED 2h ago: disk full (repo backups)")


def run(events, every=None):
    """[(seconds after T0, outcome)] through decide: [(kind, record)]."""
    record, seen = None, []
    for at, result in events:
        kind, record = decide(record, result, T0 + at, every)
        seen.append(kind)
    return seen, record


# -- what is news ----------------------------------------------------------------

def test_ok_first_run_is_no_news_and_ok_stays_quiet():
    assert run([(0, OK), (900, OK)])[0] == [None, None]


def test_crit_new_problem_is_news_once_without_notify_every():
    seen, record = run([(0, OK), (900, FAILED), (1800, FAILED), (86400 * 3, FAILED)])
    assert seen == [None, NEW, None, None]
    assert (record["state"], record["since"], record["notified"]) == ("CRITICAL", T0 + 900, T0 + 900)


def test_crit_the_same_reason_older_is_no_news():
    """Ages and durations are not the reason: "2h ago" -> "3h ago" is the same problem."""
    older = outcome("CRITICAL", "nightly-2 FAILED 3h ago: disk full (repo backups)")
    just = outcome("CRITICAL", "nightly-2 FAILED just now: disk full (repo backups)")
    assert run([(0, just), (900, FAILED), (1800, older)])[0] == [NEW, None, None]


def test_reason_key_keeps_names_counts_and_states():
    assert reason_key("s FAILED 2h ago (repo b)") == reason_key("s FAILED 1d3h ago (repo b)")
    assert reason_key("newest success s is 1d3h old, more than 1d2h") == \
        reason_key("newest success s is 2d old, more than 1d2h")
    assert reason_key("hourly-2h FAILED 5m ago") != reason_key("hourly-3h FAILED 5m ago")
    assert reason_key("2 snapshots in a row not successful") != reason_key("3 snapshots in a row not successful")
    assert reason_key("s IN_PROGRESS for 5h (repo b)") == reason_key("s IN_PROGRESS for 6h1m (repo b)")
    assert reason_key("s PARTIAL 1h ago, 2/5 shards failed") != reason_key("s PARTIAL 1h ago, 3/5 shards failed")


def test_crit_another_snapshot_failed_is_news():
    other = outcome("CRITICAL", "nightly-3 FAILED 1m ago: access denied (repo backups)")
    assert run([(0, FAILED), (900, other)])[0] == [NEW, REASON_CHANGE]


def test_crit_another_problem_behind_the_first_is_news():
    """The status line may stay the same ("(+1 more)" both times) while the
    second problem is another: the problems as -v lists them decide."""
    first = outcome("CRITICAL", "a FAILED 1h ago (repo a) (+1 more)",
                    ["CRITICAL: a FAILED 1h ago (repo a)", "WARNING: b PARTIAL 1h ago (repo b)"])
    second = outcome("CRITICAL", "a FAILED 2h ago (repo a) (+1 more)",
                     ["CRITICAL: a FAILED 2h ago (repo a)", "WARNING: c PARTIAL 1h ago (repo c)"])
    assert run([(0, first), (900, second)])[0] == [NEW, REASON_CHANGE]


def test_state_change_both_ways_is_news():
    warning = outcome("WARNING", "nightly-2 PARTIAL 2h ago, 2/5 shards failed (repo backups)")
    assert run([(0, warning), (900, FAILED), (1800, warning)])[0] == [NEW, STATE_CHANGE, STATE_CHANGE]


def test_crit_repeated_after_notify_every_and_not_before():
    seen, record = run([(0, FAILED), (3599, FAILED), (3600, FAILED), (7199, FAILED), (7200, FAILED)],
                       every=3600)
    assert seen == [NEW, None, REPEAT, None, REPEAT]
    assert record["since"] == T0 and record["notified"] == T0 + 7200


def test_ok_recovery_is_news_once_with_how_long_it_was_down():
    seen, record = run([(0, FAILED), (11400, OK), (12300, OK)])
    assert seen == [NEW, RECOVERED, None]
    assert record["recovered"]["state"] == "CRITICAL" and record["recovered"]["for_s"] == 11400


def test_unknown_that_lasts_is_news_once_and_on_notify_every():
    down = outcome("UNKNOWN", "plugin timed out after 10s (-t)")
    seen, _ = run([(at, down) for at in (0, 900, 1800, 14400, 15300)], every=14400)
    assert seen == [NEW, None, None, REPEAT, None]


def test_crit_flapping_within_notify_every_is_news_again():
    seen, _ = run([(0, FAILED), (900, OK), (1800, FAILED), (1800 + 7200, OK), (1800 + 7200 + 3601, FAILED)],
                  every=3600)
    assert seen == [NEW, RECOVERED, AGAIN, RECOVERED, NEW]


def test_crit_flapping_without_notify_every_is_again_within_a_day():
    seen, _ = run([(0, FAILED), (900, OK), (1800, FAILED), (3600, OK), (3600 + 86401, FAILED)])
    assert seen == [NEW, RECOVERED, AGAIN, RECOVERED, NEW]


# -- how the mail reads ----------------------------------------------------------

PAGING = Paging("/var/lib/x/es.state", 3600, URL, ["backups"], "sha256:x", 10)


def message(events, every=3600):
    record, text = None, ""
    for at, result in events:
        kind, new = decide(record, result, T0 + at, every)
        text = paging.compose(kind, result, record, new, T0 + at, PAGING, [])
        record = new
    return text


def test_crit_mail_names_cluster_and_url_then_the_status_line():
    lines = message([(0, OK), (900, FAILED)]).splitlines()
    assert lines[0] == ("ES_SNAPSHOT CRITICAL - prod-logs (http://es.example.com:9200): "
                        "nightly-2 FAILED 2h ago: disk full (repo backups)")
    assert lines[1] == "+ " + FAILED_2
    assert lines[2] == "before: OK for 15m"


def test_crit_mail_without_a_cluster_name_names_the_url():
    nameless = outcome("CRITICAL", "connection refused", name=None)
    assert message([(0, nameless)]).startswith("ES_SNAPSHOT CRITICAL - http://es.example.com:9200: connection")


def test_ok_recovery_mail_says_what_it_was_and_for_how_long():
    first = message([(0, FAILED), (11400, OK)]).splitlines()[0]
    assert first == ("ES_SNAPSHOT RECOVERED - prod-logs (http://es.example.com:9200): nightly-1 SUCCES... "
                     "(was CRITICAL for 3h10m: nightly-2 FAILED 2h ago: disk full (repo backups))")
    assert len(first) < 160


def test_crit_repeat_and_again_and_state_change_headlines():
    warning = outcome("WARNING", "nightly-2 PARTIAL 2h ago, 2/5 shards failed (repo backups)")
    assert message([(0, FAILED), (3600, FAILED)]).startswith("ES_SNAPSHOT still CRITICAL for 1h - prod-logs")
    assert message([(0, FAILED), (60, OK), (120, FAILED)]).startswith("ES_SNAPSHOT CRITICAL again - prod-logs")
    assert message([(0, warning), (7200, FAILED)]).startswith(
        "ES_SNAPSHOT CRITICAL, was WARNING for 2h - prod-logs")


def test_first_line_stays_below_160_characters_with_long_names():
    name = "n" * 48
    long = outcome("CRITICAL", "x" * 48 + " FAILED 2h ago: " + "because " * 20, name=name)
    back = outcome("OK", "y" * 48 + " SUCCESS, 1m old " + "(repo " + "r" * 48 + ")", name=name)
    for events in ([(0, long)], [(0, long), (60, back)], [(0, long), (3600, long)]):
        first = message(events).splitlines()[0]
        assert len(first) < 160, first
        assert name in first


def test_no_news_prints_nothing():
    assert message([(0, FAILED), (900, FAILED)]) == ""


# -- the state file --------------------------------------------------------------

def book(path, result, at, fingerprint="sha256:x"):
    return bookkeeping(PAGING._replace(path=str(path), fingerprint=fingerprint), result, T0 + at, 0)


def test_crit_missing_file_is_nothing_reported_yet(tmp_path):
    path = tmp_path / "es.state"
    assert book(path, FAILED, 0).startswith("ES_SNAPSHOT CRITICAL - prod-logs")
    assert book(path, FAILED, 900) == ""


def test_state_file_and_lock_file_are_created_0600(tmp_path):
    path = tmp_path / "es.state"
    os.umask(0o022)
    book(path, FAILED, 0)
    for created in (path, tmp_path / "es.state.lock"):
        assert stat.S_IMODE(created.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["es.state", "es.state.lock"]  # no temp file left


def test_state_file_format_version_1(tmp_path):
    path = tmp_path / "es.state"
    book(path, FAILED, 0)
    record = json.loads(path.read_text())
    assert record["file"] == "check_es_snapshot state file" and record["version"] == 1
    assert record["check"] == {"url": URL, "repositories": ["backups"], "fingerprint": "sha256:x"}
    assert (record["state"], record["since"], record["notified"]) == ("CRITICAL", T0, T0)
    assert record["problems"] == [FAILED_2]


@pytest.mark.parametrize("content, said", [
    (b"{\"file\": \"check_es_snapshot state file\", \"vers", "is corrupt (not JSON)"),
    (b"\xff\xfe garbage", "is corrupt (not JSON)"),
    (b"[1, 2]", "is not a check_es_snapshot state file"),
    (b"", "is corrupt (not JSON)"),
])
def test_ok_corrupt_file_is_news_and_rewritten(tmp_path, content, said):
    path = tmp_path / "es.state"
    path.write_bytes(content)
    text = book(path, OK, 0)
    assert text.splitlines()[0] == (f"ES_SNAPSHOT UNKNOWN - state file {path} {said}: rewritten; "
                                    "the present state is reported as new")
    assert text.splitlines()[1].startswith("ES_SNAPSHOT OK - prod-logs (http://es.example.com:9200): nightly-1")
    assert book(path, OK, 900) == ""  # rewritten: the next run is quiet


def test_crit_foreign_file_is_news_and_names_the_other_check(tmp_path):
    path = tmp_path / "es.state"
    book(path, FAILED, 0, fingerprint="sha256:other")
    record = json.loads(path.read_text())
    record["check"]["url"] = "http://other:9200"
    path.write_text(json.dumps(record))
    text = book(path, FAILED, 900)
    assert text.splitlines()[0].startswith("ES_SNAPSHOT CRITICAL - prod-logs")
    assert text.splitlines()[1] == (f"ES_SNAPSHOT UNKNOWN - state file {path} belongs to another check "
                                    "(http://other:9200, repositories backups): rewritten; the present "
                                    "state is reported as new")
    assert book(path, FAILED, 1800) == ""


def test_crit_another_version_or_a_field_of_the_wrong_type_is_news(tmp_path):
    path = tmp_path / "es.state"
    book(path, FAILED, 0)
    record = json.loads(path.read_text())
    path.write_text(json.dumps({**record, "version": 2}))
    assert "has format version 2, this check writes 1" in book(path, FAILED, 900)
    path.write_text(json.dumps({**record, "since": "yesterday"}))
    assert "is corrupt (fields missing or of the wrong type)" in book(path, FAILED, 1800)


def test_crit_unreadable_file_is_news(tmp_path):
    path = tmp_path / "es.state"
    target = tmp_path / "elsewhere"
    target.write_text("{}")
    path.symlink_to(target)  # never followed: a symlink planted in a shared directory
    text = book(path, FAILED, 0)
    assert f"state file {path} cannot be read (" in text


def test_statefile_write_leaves_the_old_file_when_the_directory_is_gone(tmp_path):
    state = StateFile(str(tmp_path / "gone" / "es.state"))
    with pytest.raises(StateFileError, match=r"cannot be written \(No such file or directory\)"):
        state.write({"state": "OK"})


def test_unknown_lock_file_that_cannot_be_made_is_said_every_run(tmp_path):
    path = tmp_path / "no-such-directory" / "es.state"
    for at in (0, 900):
        text = book(path, OK, at)
        assert text.splitlines()[0] == (f"ES_SNAPSHOT UNKNOWN - state file {path} cannot be used: cannot open "
                                        f"its lock file {path}.lock: No such file or directory; every run is "
                                        "reported until it is fixed")


# -- the cluster's name: from the facts the check already has ----------------------

def test_cluster_name_comes_from_get_root_and_is_none_when_not_said():
    from plugin.cluster import parse_cluster_info
    root = {"version": {"number": "8.15.3"}}
    assert parse_cluster_info({**root, "cluster_name": "prod-logs"}).name == "prod-logs"
    assert parse_cluster_info(root).name is None
    assert parse_cluster_info({**root, "cluster_name": ["x"]}).name is None
    assert parse_cluster_info({**root, "cluster_name": ""}).name is None
