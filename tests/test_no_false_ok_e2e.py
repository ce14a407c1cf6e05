"""Issue 10 end to end: the whole run (cli.main, in-process through
tests/incheck.py, with the fixed clock) against the simulated cluster, exact
first lines; minute-precision lines are in test_no_false_ok.py."""
import re
import subprocess
import sys

import pytest

from plugin.options import build_parser
from tests.conftest import HOUR_MS, NOW_MS, ROOT, first_line
from tests.incheck import main_with
from tests.fake_es import Cluster, Snap

DAY_MS = 24 * HOUR_MS
README = (ROOT / "README.md").read_text()


def ago(name, state="SUCCESS", hours=1, **kw):
    return Snap(name, state, NOW_MS - int(hours * HOUR_MS), **kw)


def check(server, *args):
    code, out, err = server.run("--url", server.url, *args)
    assert err == ""
    return code, first_line(out), out


def perf(out):
    return dict(p.split("=", 1) for p in out.splitlines()[0].split(" | ")[1].split())


@pytest.mark.parametrize("family", ["es8", "es7.15", "es7.10", "os2"])
def test_warn_stuck_snapshot_behind_newer_successes(inproc, family):
    server = inproc(Cluster(family, {"backups": [ago("nightly-0412", "IN_PROGRESS", 49), ago("nightly-0413", hours=24),
                                                ago("nightly-0414", hours=1)]}))
    code, line, _ = check(server, "--running-warning", "12h", "--running-critical", "3d")
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - nightly-0412 IN_PROGRESS for 2d1h, more than 12h "
                               "(repo backups)")


def test_crit_stuck_snapshot_started_before_the_window(inproc):
    cluster = Cluster("es9", {"backups": [ago("stuck", "IN_PROGRESS", 5 * 24), ago("fresh", hours=1)]})
    code, line, out = check(inproc(cluster), "-w", "12h", "-c", "1d", "-v")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - stuck IN_PROGRESS for 5d, more than 1d (repo backups)")
    assert any(line.startswith("  stuck IN_PROGRESS ") for line in out.splitlines())
    listing = [e["path"].split("?")[0] for e in cluster.log]
    assert listing[:2] == ["/", "/_snapshot"]
    assert sorted(listing[2:5]) == ["/_snapshot/backups/*", "/_snapshot/backups/*", "/_snapshot/backups/_current"]


def test_crit_failed_snapshot_while_its_retry_runs(inproc):
    server = inproc(Cluster("es8", {"backups": [ago("ok", hours=3), ago("f1", "FAILED", 2, reason="disk full"),
                                               ago("retry", "IN_PROGRESS", 1)]}))
    code, line, out = check(server)
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - f1 FAILED 2h ago: disk full (repo backups)")
    assert perf(out)["failed_streak"] == "1;;;0"


def test_warn_clock_skew_names_the_snapshot_in_the_future(inproc):
    server = inproc(Cluster("es8", {"backups": [ago("nightly-x", hours=-(30 * 24 + 0.5)), ago("real", hours=3)]}))
    code, line, _ = check(server)
    assert (code, line) == (1, "ES_SNAPSHOT WARNING - nightly-x starts 30d in the future: clock skew on the "
                               "cluster? (repo backups)")


def test_ok_partial_snapshots_mapped_to_ok_while_fresh(inproc):
    server = inproc(Cluster("es8", {"backups": [ago(f"p{i}", "PARTIAL", i + 1, shards_failed=1) for i in range(3)]}))
    code, line, out = check(server, "--state-map", "PARTIAL=ok")
    assert (code, line) == (0, "ES_SNAPSHOT OK - p0 PARTIAL 1h ago, 1/5 shards failed (repo backups)")
    assert perf(out)["failed_streak"] == "0;;;0"


def test_unknown_state_map_typo():
    code, out, _ = main_with({}, "--state-map", "PARITAL=ok")
    assert (code, first_line(out)) == (3, "ES_SNAPSHOT UNKNOWN - usage: --state-map 'PARITAL=ok': unknown state "
                                          "'PARITAL' (one of SUCCESS, PARTIAL, FAILED, INCOMPATIBLE)")


def test_crit_age_and_its_perfdata_survive_an_outage(inproc):
    server = inproc(Cluster("es8", {"backups": [ago("last-good", hours=20 * 24)]}))
    code, line, out = check(server)
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - newest success last-good is 20d old, more than 2d2h "
                               "(repo backups)")
    assert re.fullmatch(r"172800[01]s;93600;180000;0", perf(out)["age"])


def test_ok_two_repositories_with_labels_per_repository(inproc):
    server = inproc(Cluster("es8", {"alpha": [ago("alpha-1", hours=1)], "beta": [ago("beta-1", hours=3)]}))
    code, line, out = check(server)
    assert (code, line) == (0, "ES_SNAPSHOT OK - beta-1 SUCCESS, 3h old (repo beta); 2 repositories OK")
    labels = perf(out)
    assert labels["alpha_age"].startswith("3600s;93600;180000;0") or labels["alpha_age"].startswith("3601s")
    assert {"age", "alpha_age", "beta_age", "alpha_running", "beta_failed_streak", "alpha_duration",
            "beta_size"} <= set(labels)


def test_crit_named_repository_decides_in_a_comma_list(inproc):
    server = inproc(Cluster("es8", {"alpha": [ago("alpha-1")], "beta": [ago("beta-1", "FAILED", 2), ago("beta-0", hours=3)],
                                   "gamma": [ago("gamma-1")]}))
    code, line, _ = check(server, "-r", "alpha,beta")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - beta-1 FAILED 2h ago (repo beta)")


def test_crit_missing_repository_names_the_registered_ones(inproc):
    server = inproc(Cluster("es8", {"alpha": [ago("alpha-1")], "beta": [ago("beta-1")]}))
    code, line, _ = check(server, "-r", "gamma")
    assert (code, line) == (2, "ES_SNAPSHOT CRITICAL - repository 'gamma' not found (registered: alpha, beta)")


def test_verbose_shows_the_last_ten_snapshots_on_es_7_16(inproc):
    cluster = Cluster("es8", {"backups": [ago(f"d{i:02d}", hours=i * 24 + 1) for i in range(30)]})
    code, line, out = check(inproc(cluster), "-v")
    assert (code, line) == (0, "ES_SNAPSHOT OK - d00 SUCCESS, 1h old (repo backups)")
    shown = [line.split()[0] for line in out.splitlines() if line.startswith("  d")]
    assert shown == [f"d{i:02d}" for i in range(10)]
    assert len(cluster.log) == 6  # one more request than without -v


# -- 16. help and README agree with behaviour -----------------------------------------

def test_help_and_readme_say_which_timeouts_are_critical_and_which_unknown(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    help_text = build_parser().format_help()
    assert "no complete answer within -t" in help_text and "the plugin's own overall timeout" in help_text
    assert '("no complete answer within 10s")' in README and '("plugin timed out after 10s (-t)")' in README
    assert "<repo>_age" in help_text and "| `<repo>_age` | s |" in README


def test_demo_aliyun_answers_as_the_version_the_readme_states():
    stated = re.search(r"the simulated cluster answers as Elasticsearch (\d+\.\d+)", README).group(1)
    result = subprocess.run([sys.executable, "-m", "tests.fake_es", "--demo", "--scenario", "aliyun", "--", "-v"],
                            cwd=str(ROOT), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0
    assert f"cluster: Elasticsearch {stated}." in result.stdout
