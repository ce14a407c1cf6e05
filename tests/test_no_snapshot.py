"""Issue 20, item 4: "no snapshot" means no snapshot.

A repository is called empty only once the check knows it is; an old
success is judged by its age at every verbosity; a repository whose
snapshots cannot be read (its folder wiped: real ES 5.6-9.5 and OpenSearch
answer 404 naming the snapshot, then an empty retry) is never empty.  End
to end against the simulated cluster, exact first lines."""
import pytest

from tests.conftest import HOUR_MS, NOW_MS, first_line
from tests.fake_es import Cluster, Snap

DAY_MS = 24 * HOUR_MS
YEAR_MS = 365 * DAY_MS


def run(inproc, cluster, *args):
    server = inproc(cluster)
    code, out, err = server.run("--url", server.url, *args)
    assert err == ""
    return code, first_line(out)


def listings(cluster):
    return [e for e in cluster.log if e["path"].startswith("/_snapshot/b/") and not e["path"].endswith("_current")]


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"], ["--no-snapshots-state", "ok"]])
@pytest.mark.parametrize("family", ["es8", "es9", "es7.17", "es7.10", "os2"])
def test_crit_success_older_than_the_widest_look_back_is_judged_by_its_age(inproc, family, verbosity):
    cluster = Cluster(family, {"b": [Snap("last-good", "SUCCESS", NOW_MS - 4 * YEAR_MS)]})
    assert run(inproc, cluster, *verbosity) == (
        2, "ES_SNAPSHOT CRITICAL - newest success last-good is 4y old, more than 2d2h (repo b)")


def test_crit_old_success_costs_one_request_beyond_the_widening(inproc):
    older = [Snap(f"older-{i}", "SUCCESS", NOW_MS - 5 * YEAR_MS - i * DAY_MS) for i in range(50)]
    cluster = Cluster("es8", {"b": [Snap("last-good", "SUCCESS", NOW_MS - 4 * YEAR_MS)] + older})
    assert run(inproc, cluster)[0] == 2
    asked = listings(cluster)
    assert len(asked) == 1 + 3 + 1  # the window, three widening steps, the newest before them
    last = asked[-1]["params"]
    assert (last["order"], last["size"], int(last["from_sort_value"])) == (
        "desc", "1", NOW_MS - 512 * (2 * DAY_MS + 2 * HOUR_MS + HOUR_MS) - 1)
    assert sum(e["loads"] for e in asked) <= 51  # pruned: the newer windows are skipped


@pytest.mark.parametrize("family", ["es8", "es7.17", "es7.15", "es7.10", "os1", "os2"])
@pytest.mark.parametrize("state_option", [[], ["--no-snapshots-state", "ok"]])
def test_crit_repository_whose_files_were_wiped_is_not_empty(inproc, family, state_option):
    """rm -r of the repository folder: every snapshot is listed by the
    cluster, none can be read (seen on ES 7.10.2, 8.19.21, OpenSearch 2.19.6)."""
    cluster = Cluster(family, {"b": [Snap("l-1", "SUCCESS", NOW_MS - 2 * HOUR_MS),
                                     Snap("l-2", "SUCCESS", NOW_MS - HOUR_MS)]})
    cluster.lose("b")
    code, line = run(inproc, cluster, *state_option)
    assert (code, line[:60]) == (2, "ES_SNAPSHOT CRITICAL - snapshot l-1 has no readable metadata")
    assert line.endswith(", no readable snapshot in repository 'b'")


@pytest.mark.parametrize("family", ["es5", "es6"])
@pytest.mark.parametrize("state_option, code", [([], 2), (["--no-snapshots-state", "ok"], 0)])
def test_wiped_repository_before_es_7_looks_new(inproc, family, state_option, code):
    """ES 5.6.16 and 6.8.23 answer a wiped repository 200 with no snapshot:
    nothing tells it from a new one (README: keep --no-snapshots-state for
    repositories that are new on purpose)."""
    cluster = Cluster(family, {"b": [Snap("l-1", "SUCCESS", NOW_MS - HOUR_MS)]})
    cluster.lose("b")
    assert run(inproc, cluster, *state_option)[1].endswith(" - repository 'b' holds no snapshot")
    assert run(inproc, cluster, *state_option)[0] == code


@pytest.mark.parametrize("family", ["es8", "es7.10", "os2"])
@pytest.mark.parametrize("state, code", [("ok", 0), ("warning", 1), ("critical", 2)])
def test_empty_repository_says_so_in_plain_words(inproc, family, state, code):
    assert run(inproc, Cluster(family, {"b": []}), "--no-snapshots-state", state) == (
        code, f"ES_SNAPSHOT {state.upper()} - repository 'b' holds no snapshot")


@pytest.mark.parametrize("critical", ["40d", "10y"])
def test_crit_empty_repository_never_asks_before_1970(inproc, critical):
    cluster = Cluster("es8", {"b": []})
    assert run(inproc, cluster, "-w", "1d", "-c", critical) == (
        2, "ES_SNAPSHOT CRITICAL - repository 'b' holds no snapshot")
    asked = listings(cluster)
    assert all(int(e["params"]["from_sort_value"]) > 0 for e in asked if "from_sort_value" in e["params"])
    # The whole listing, once a window would start before 1970, proves the
    # repository empty: nothing is asked after it.
    assert "from_sort_value" not in asked[-1]["params"]
    assert len(asked) == {"40d": 4, "10y": 2}[critical]  # 512 x 40d and 8 x 10y reach before 1970


def test_crit_empty_repository_with_default_thresholds_asks_once_more(inproc):
    cluster = Cluster("es8", {"b": []})
    assert run(inproc, cluster)[1] == "ES_SNAPSHOT CRITICAL - repository 'b' holds no snapshot"
    assert len(listings(cluster)) == 1 + 3 + 1


def test_crit_no_success_of_the_policy_beyond_the_look_back(inproc):
    snaps = [Snap("other", "SUCCESS", NOW_MS - HOUR_MS, policy="hourly"),
             Snap("nightly-old", "SUCCESS", NOW_MS - 4 * YEAR_MS, policy="nightly")]
    assert run(inproc, Cluster("es8", {"b": snaps}), "--slm-policy", "nightly") == (
        2, "ES_SNAPSHOT CRITICAL - newest success nightly-old is 4y old, more than 2d2h (repo b)")
