"""The request plan (plugin/plan.py): which requests a run sends, in which
order, and that sending fewer changes no verdict."""
import pytest

from plugin import plan
from plugin.reader import Query
from tests.conftest import HOUR_MS, NOW_MS
from tests.fake_es import FAMILIES, Cluster, Snap
from tests.incheck import judged

PRESENT = {"backups": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]}


def paths(cluster):
    return [(e["path"], e["status"]) for e in cluster.log]


def test_ok_with_r_on_es_7_16_and_later_is_the_listing_and_current_alone():
    cluster = Cluster("es8", dict(PRESENT))
    check = judged(cluster, "-r", "backups")
    assert (check.exitcode, check.summary_str) == (0, "s1 SUCCESS, 1h old (repo backups)")
    assert paths(cluster) == [("/_snapshot/backups/*", 200), ("/_snapshot/backups/_current", 200)]


def test_ok_without_r_lists_the_repositories_first_but_never_asks_the_version():
    cluster = Cluster("es9", dict(PRESENT))
    judged(cluster)
    assert paths(cluster) == [("/_snapshot", 200), ("/_snapshot/backups/*", 200),
                              ("/_snapshot/backups/_current", 200)]


@pytest.mark.parametrize("family", ["es7.15", "es7.10", "es5", "os2"])
def test_ok_below_7_16_the_refused_window_asks_the_version_then_lists_as_before(family):
    cluster = Cluster(family, dict(PRESENT))
    check = judged(cluster, "-r", "backups", "--no-size")
    assert (check.exitcode, check.summary_str) == (0, "s1 SUCCESS, 1h old (repo backups)")
    # The refused request reads nothing from the repository: 400 comes first.
    assert paths(cluster)[:2] == [("/_snapshot/backups/*", 400), ("/", 200)]
    assert cluster.log[0]["loads"] == 0
    assert "/_snapshot" not in [p for p, _ in paths(cluster)]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_crit_missing_repository_named_by_r_keeps_its_registered_hint(family):
    """-r names a repository the cluster does not have: the listing says so
    (404 on 8.14+ and below 7.14, a failure entry on 7.14-8.13), and only
    then GET /_snapshot is asked, for the same verdict as before."""
    cluster = Cluster(family, dict(PRESENT))
    check = judged(cluster, "-r", "gone")
    assert (check.exitcode, check.summary_str) == (2, "repository 'gone' not found (registered: backups)")
    assert paths(cluster)[-1] == ("/_snapshot", 200)


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
