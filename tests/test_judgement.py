"""State x age x thresholds, judged by the assembled check with a fixed clock."""
import pytest

from tests.conftest import NOW_MS
from tests.fake_es import Cluster, Snap
from tests.incheck import judged

S = 1000  # one second in ms


def snap(name, state="SUCCESS", age_s=3600, **kw):
    return Snap(name, state, NOW_MS - age_s * S, **kw)


def run(repositories, *args, family="es8", **cluster_kw):
    check = judged(Cluster(family, repositories, **cluster_kw), *args)
    return check


@pytest.mark.parametrize("age_s, code", [
    (0, 0), (3600, 0), (3601, 1), (7200, 1), (7201, 2), (90 * 86400, 2),
])
def test_age_boundaries_are_inclusive(age_s, code):
    check = run({"b": [snap("s1", age_s=age_s)]}, "-w", "3600", "-c", "7200")
    assert check.exitcode == code


def test_ok_future_start_counts_as_age_zero():
    check = run({"b": [snap("skewed", age_s=-600)]}, "-w", "1h", "-c", "2h")
    assert check.exitcode == 0
    assert check.summary_str == "skewed SUCCESS, 0s old (repo b)"
    assert "age=0s;3600;7200;0" in check.perfdata


@pytest.mark.parametrize("newest_state, code, summary", [
    ("SUCCESS", 0, "new SUCCESS, 10m old (repo b)"),
    ("PARTIAL", 1, "new PARTIAL 10m ago, 1/5 shards failed (repo b)"),
    ("FAILED", 2, "new FAILED 10m ago: disk full (repo b)"),
    ("INCOMPATIBLE", 2, "new INCOMPATIBLE 10m ago, cannot be restored on this cluster (repo b)"),
    ("IN_PROGRESS", 0, "new IN_PROGRESS for 10m, last success 1h old (repo b)"),
    ("EXPLODED", 3, "new has unrecognised state 'EXPLODED' (repo b)"),
])
def test_state_of_newest_snapshot(newest_state, code, summary):
    extra = {"shards_failed": 1} if newest_state == "PARTIAL" else {}
    extra.update(reason="disk full") if newest_state == "FAILED" else None
    check = run({"b": [snap("old", age_s=3600), snap("new", newest_state, age_s=600, **extra)]})
    assert (check.exitcode, check.summary_str) == (code, summary)


def test_crit_unknown_state_does_not_hide_old_age():
    check = run({"b": [snap("old", age_s=3 * 86400), snap("new", "EXPLODED", age_s=60)]},
                "-w", "1d", "-c", "2d")
    assert check.exitcode == 2
    assert check.summary_str.startswith("newest success old is 3d old, more than 2d")


def test_warn_in_progress_with_stale_last_success():
    check = run({"b": [snap("old", age_s=30 * 3600), snap("run", "IN_PROGRESS", age_s=60)]})
    assert check.exitcode == 1
    assert check.summary_str == "newest success old is 1d6h old, more than 1d2h (repo b)"


def test_crit_newest_failed_in_unsorted_list():
    listed = [snap("older", age_s=7200), snap("newest", "FAILED", age_s=60), snap("oldest", age_s=9000)]
    check = run({"b": listed}, family="es6", sorted_listing=False)
    assert check.exitcode == 2
    assert check.summary_str == "newest FAILED 1m ago (repo b)"


def test_crit_no_successful_snapshot():
    check = run({"b": [snap("f1", "FAILED", age_s=60), snap("f2", "FAILED", age_s=7200)]})
    assert check.exitcode == 2
    assert check.summary_str.startswith("f1 FAILED 1m ago, no successful snapshot")
    assert not any(p.startswith("age=") for p in check.perfdata)


@pytest.mark.parametrize("mapping, code", [
    ("PARTIAL=ok", 0), ("PARTIAL=critical", 2), ("PARTIAL=unknown", 3), ("partial=WARN", 1),
])
def test_state_map_overrides_partial(mapping, code):
    check = run({"b": [snap("old"), snap("p", "PARTIAL", age_s=60, shards_failed=1)]},
                "--state-map", mapping)
    assert check.exitcode == code


def test_crit_partial_and_too_old():
    check = run({"b": [snap("p", "PARTIAL", age_s=3 * 86400)]}, "-c", "2d")
    assert check.exitcode == 2


def test_crit_one_of_two_repositories_failed():
    check = run({"a": [snap("a1", age_s=60)], "b": [snap("b0"), snap("b1", "FAILED", age_s=60)]})
    assert check.exitcode == 2
    assert check.summary_str == "b1 FAILED 1m ago (repo b)"


def test_crit_not_hidden_by_unknown_in_other_repository():
    check = run({"a": [snap("a1", "WEIRD", age_s=60), snap("a0")],
                 "b": [snap("b1", "FAILED", age_s=60), snap("b0")]})
    assert check.exitcode == 2
    # Item 4 of issue 10: the unrecognised state is named, not counted as "+1 more".
    assert check.summary_str == "b1 FAILED 1m ago (repo b); a1 has unrecognised state 'WEIRD' (repo a)"


def test_ok_two_repositories_names_the_stalest():
    check = run({"a": [snap("a1", age_s=600)], "b": [snap("b1", age_s=7200)]})
    assert check.exitcode == 0
    assert check.summary_str == "b1 SUCCESS, 2h old (repo b); 2 repositories OK"
    assert "age=7200s;93600;180000;0" in check.perfdata


def test_crit_empty_repository():
    # ES >= 7.16 looked back 512 x (critical 2d2h + 1h slack) = 1088d (2y358d), then once
    # for the newest snapshot before that: none, so the repository is known to be empty.
    check = run({"b": []})
    assert (check.exitcode, check.summary_str) == (2, "repository 'b' holds no snapshot")


def test_crit_empty_repository_without_window():
    check = run({"b": []}, family="os2")
    assert (check.exitcode, check.summary_str) == (2, "repository 'b' holds no snapshot")


def test_crit_named_repository_missing():
    check = run({"b": [snap("b1")]}, "-r", "b", "-r", "aliyun_auto_snapshot")
    assert check.exitcode == 2
    assert check.summary_str == ("repository 'aliyun_auto_snapshot' not found "
                                 "(Alibaba Cloud creates it with the first automatic backup)")


def test_crit_no_repository_registered():
    check = run({})
    assert (check.exitcode, check.summary_str) == (2, "no snapshot repository registered")
    assert check.perfdata == []


def test_only_named_repositories_are_read():
    check = run({"a": [snap("a1", "FAILED")], "b": [snap("b1")]}, "-r", "b")
    assert check.exitcode == 0


def test_perfdata_labels_are_stable_across_states():
    labels = set()
    for state in ("SUCCESS", "PARTIAL", "FAILED"):
        check = run({"b": [snap("old", age_s=7200), snap("new", state, age_s=60)]})
        labels.add(tuple(sorted(p.split("=")[0] for p in check.perfdata)))
    assert labels == {("age", "duration", "failed_streak", "running", "shards_failed", "size")}


# -- found by the mutation check of 2026-12-04 ------------------------------------------

def test_unknown_long_state_is_cut_on_the_status_line():
    check = run({"b": [snap("ok-1", age_s=7200), snap("odd", "SNAPSHOT_STATE_FROM_THE_FUTURE_X")]})
    assert (check.exitcode, check.summary_str) == (
        3, "odd has unrecognised state 'SNAPSHOT_STATE_FROM_T...' (repo b)")
