"""--format openmetrics: the perfdata's facts per repository, read back by
prometheus_client's own parsers; the exit code stays the check's."""
import os
import re
import subprocess
import sys

import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families

from plugin import cli
from plugin.errors import EsError
from plugin.openmetrics import CHECK_STATE, FACTS, REPOSITORY_STATE, UP, label_value, openmetrics_report
from tests.conftest import NOW_MS, ROOT, SCRIPT, now_ms, run_check
from tests.fake_es import Cluster, Snap, daily
from tests.incheck import judged, main_with_client
from tests.test_cli import HangingClient

S = 1000
HOUR = 3600
CANARY = "s3cr3t-canary-7f3a"
README = (ROOT / "README.md").read_text()


def snap(name, state="SUCCESS", age_s=HOUR, **kw):
    return Snap(name, state, NOW_MS - age_s * S, **kw)


def report(repositories, *args, family="es8"):
    """(check, exposition) of one in-process run with the fixed clock."""
    check = judged(Cluster(family, repositories), *args)
    return check, openmetrics_report(check, check.resources[0])


def samples(text):
    """{(metric name, repository label or None): value}, via prometheus_client.

    Also holds the text to both formats: every family has HELP and TYPE
    gauge, and the OpenMetrics parser (stricter, wants # EOF) agrees.
    """
    families = list(text_string_to_metric_families(text))
    assert families and all(f.type == "gauge" and f.documentation for f in families)
    strict = [(f.name, [(s.labels, s.value) for s in f.samples]) for f in parse_openmetrics(text)]
    assert strict == [(f.name, [(s.labels, s.value) for s in f.samples]) for f in families]
    found = {}
    for family in families:
        for sample in family.samples:
            key = (sample.name, sample.labels.get("repository"))
            assert key not in found, f"duplicate sample {key}"
            found[key] = sample.value
    return found


def run_main(client, *argv):
    return main_with_client(client, "--format", "openmetrics", *argv)


def test_ok_one_repository_carries_every_fact():
    check, text = report({"b": [snap("s1", age_s=2 * HOUR, duration_ms=90 * S, size_bytes=123456,
                                     shards_total=5)]})
    assert check.exitcode == 0
    assert samples(text) == {
        ("es_snapshot_up", None): 1, ("es_snapshot_check_state", None): 0,
        ("es_snapshot_state", "b"): 0, ("es_snapshot_age_seconds", "b"): 2 * HOUR,
        ("es_snapshot_duration_seconds", "b"): 90, ("es_snapshot_size_bytes", "b"): 123456,
        ("es_snapshot_shards_failed", "b"): 0, ("es_snapshot_running_seconds", "b"): 0,
        ("es_snapshot_failed_streak", "b"): 0}
    assert text.endswith("\n# EOF")


def test_ok_same_numbers_as_the_perfdata():
    check, text = report({"b": [snap("old", age_s=30 * HOUR), snap("new", "PARTIAL", age_s=HOUR, shards_failed=2),
                                snap("run", "IN_PROGRESS", age_s=600)]},
                         "-w", "2d", "-c", "3d", "--state-map", "PARTIAL=ok")
    perfdata = {p.split("=")[0]: float(p.split("=")[1].split(";")[0].rstrip("sB")) for p in check.perfdata}
    names = {"age": "age_seconds", "duration": "duration_seconds", "size": "size_bytes",
             "shards_failed": "shards_failed", "running": "running_seconds", "failed_streak": "failed_streak"}
    found = samples(text)
    assert set(perfdata) == set(names)
    assert {label: found["es_snapshot_" + name, "b"] for label, name in names.items()} == perfdata


def test_warn_partial_newest_is_state_1():
    check, text = report({"b": [snap("old", age_s=2 * HOUR), snap("new", "PARTIAL", age_s=HOUR, shards_failed=2)]})
    found = samples(text)
    assert check.exitcode == 1
    assert (found["es_snapshot_check_state", None], found["es_snapshot_state", "b"]) == (1, 1)
    assert (found["es_snapshot_shards_failed", "b"], found["es_snapshot_failed_streak", "b"]) == (2, 1)


def test_crit_age_beyond_critical_is_state_2():
    check, text = report({"b": [snap("s1", age_s=3 * 86400)]}, "-w", "1d", "-c", "2d", family="es6")
    found = samples(text)
    assert check.exitcode == 2
    assert (found["es_snapshot_check_state", None], found["es_snapshot_state", "b"]) == (2, 2)
    assert found["es_snapshot_age_seconds", "b"] == 3 * 86400


def test_crit_running_too_long_shows_its_run_time():
    check, text = report({"b": [snap("s0", age_s=5 * HOUR), snap("stuck", "IN_PROGRESS", age_s=4 * HOUR)]},
                         "--running-warning", "1h", "--running-critical", "3h")
    found = samples(text)
    assert check.exitcode == 2
    assert (found["es_snapshot_state", "b"], found["es_snapshot_running_seconds", "b"]) == (2, 4 * HOUR)


def test_unknown_unrecognised_state_is_state_3():
    check, text = report({"b": [snap("s0", age_s=2 * HOUR), snap("odd", "EXPLODED", age_s=HOUR)]})
    assert check.exitcode == 3
    assert samples(text)["es_snapshot_state", "b"] == 3


def test_crit_two_repositories_each_judged_alone():
    """b is past -c but not the stalest: the check judged only a, b still says 2."""
    check, text = report({"a": [snap("a1", age_s=80 * HOUR)], "b": [snap("b1", age_s=60 * HOUR)],
                          "c": daily(3, NOW_MS)}, "-w", "1d", "-c", "2d", family="es6")
    found = samples(text)
    assert check.exitcode == 2
    assert [found["es_snapshot_state", r] for r in "abc"] == [2, 2, 0]
    assert (found["es_snapshot_age_seconds", "a"], found["es_snapshot_age_seconds", "b"]) == (80 * HOUR, 60 * HOUR)
    assert found["es_snapshot_check_state", None] == 2


def test_crit_missing_repository_has_a_state_and_no_facts():
    check, text = report({"b": [snap("s1")]}, "-r", "b", "-r", "ghost")
    found = samples(text)
    assert check.exitcode == 2
    assert (found["es_snapshot_state", "b"], found["es_snapshot_state", "ghost"]) == (0, 2)
    assert [key for key in found if key[1] == "ghost"] == [("es_snapshot_state", "ghost")]


def test_crit_no_successful_snapshot_has_no_age():
    check, text = report({"b": [snap("f1", "FAILED", age_s=HOUR)]})
    found = samples(text)
    assert (check.exitcode, found["es_snapshot_state", "b"]) == (2, 2)
    assert ("es_snapshot_age_seconds", "b") not in found
    assert found["es_snapshot_failed_streak", "b"] == 1


@pytest.mark.parametrize("name", ['we"ird', "back\\slash", "new\nline", 'all "\\\n of them', "café"])
def test_ok_repository_name_is_escaped_and_parses_back(name):
    check, text = report({name: [snap("s1")]})
    assert check.exitcode == 0
    assert samples(text)["es_snapshot_state", name] == 0
    assert all(line.startswith(("# ", "es_snapshot_")) for line in text.splitlines())


def test_label_value_escapes_the_three_characters_and_encodes_other_controls():
    assert label_value('a\\b"c\nd\te\r%') == 'a\\\\b\\"c\\nd%09e%0D%'


def test_crit_cluster_unreachable_prints_a_valid_exposition():
    class RefusedClient:
        def get(self, path, params=None, *, what="", decode=None):
            raise EsError(f"cannot {what} at es:9200: connection refused", state=cli.nagiosplugin.Critical)

    code, out, err = run_main(RefusedClient(), "-r", "backups", "-r", "logs")
    assert (code, err) == (2, "")
    assert samples(out) == {("es_snapshot_up", None): 0, ("es_snapshot_check_state", None): 2,
                            ("es_snapshot_state", "backups"): 2, ("es_snapshot_state", "logs"): 2}


def test_unknown_authentication_refused_over_http(inproc):
    server = inproc(Cluster("es8", {"b": [Snap("s1", start_ms=0)]}, auth={"user": "monitor", "password": "right"}))
    code, out, err = inproc.run("--url", server.url, "--format", "openmetrics", "--user", "monitor",
                                env={"ES_PASSWORD": CANARY})
    assert (code, err) == (3, "")
    assert samples(out) == {("es_snapshot_up", None): 0, ("es_snapshot_check_state", None): 3}


def test_unknown_plugin_timeout_prints_a_valid_exposition():
    code, out, err = run_main(HangingClient(), "-t", "1", "-r", "b")
    # The sentence on stderr (cron mails it), as for every failure in this format.
    assert (code, err) == (3, "ES_SNAPSHOT UNKNOWN - plugin timed out after 1s (-t)\n")
    assert samples(out) == {("es_snapshot_up", None): 0, ("es_snapshot_check_state", None): 3,
                            ("es_snapshot_state", "b"): 3}


def test_unknown_internal_error_keeps_the_file_valid_and_says_why_on_stderr():
    class BrokenClient:
        def get(self, path, params=None, *, what="", decode=None):
            raise ZeroDivisionError(f"a bug near {CANARY}")

    code, out, err = run_main(BrokenClient(), "--password", CANARY, "--user", "u")
    assert code == 3
    assert samples(out)["es_snapshot_check_state", None] == 3
    assert err.startswith("ES_SNAPSHOT UNKNOWN - internal error: ZeroDivisionError: a bug near ")
    assert CANARY not in out + err


def test_no_secret_in_the_output(serve):
    cluster = Cluster("es8", {"b": daily(2, now_ms())}, auth={"user": "monitor", "password": CANARY})
    server = serve(cluster)
    url_with_password = server.url.replace("//", f"//monitor:{CANARY}@")
    for args, env in ((["--url", server.url, "--user", "monitor"], {"ES_PASSWORD": CANARY}),
                      (["--url", url_with_password, "-vvv"], {}),
                      (["--url", "http://127.0.0.1:9", "--user", "monitor", "--password", CANARY], {})):
        code, out, err = run_check(*args, "--format", "openmetrics", env=env)
        assert code in (0, 2) and err == "", (args, out, err)
        assert samples(out)
        assert CANARY not in out


def test_ok_over_http_with_a_non_utf8_locale(serve):
    """The exposition is UTF-8 even where Python would write ASCII."""
    server = serve(Cluster("es8", {"sauvegardes-été": daily(2, now_ms())}))
    code, out, err = run_check("--url", server.url, "--format", "openmetrics",
                               env={"PYTHONIOENCODING": "ascii"})
    assert (code, err) == (0, "")
    assert samples(out)["es_snapshot_state", "sauvegardes-été"] == 0


# -- README: the metric table and the cron line ---------------------------------

PROMETHEUS_SECTION = README.split("### Prometheus")[1].split("\n## ")[0]


def test_readme_lists_every_metric_and_shows_real_help_lines():
    listed = re.findall(r"^\| `(es_snapshot_[a-z_]+)` \|", PROMETHEUS_SECTION, re.M)
    assert listed == [UP[0], CHECK_STATE[0], REPOSITORY_STATE[0]] + [name for name, _ in FACTS.values()]
    _, text = report({"b": [snap("s1")]})
    shown = re.findall(r"^# HELP .*$", PROMETHEUS_SECTION, re.M)
    assert shown and set(shown) <= set(text.splitlines())


def test_ok_readme_cron_line_writes_the_file_atomically(serve, tmp_path):
    cron = re.search(r"^\*/10 \* \* \* \*  (f=.+)$", PROMETHEUS_SECTION, re.M).group(1)
    server = serve(Cluster("es8", {"backups": daily(2, now_ms())},
                           auth={"user": "monitor", "password": CANARY}))
    (tmp_path / "password").write_text(CANARY + "\n")
    command = (cron.replace("/var/lib/prometheus/node-exporter", str(tmp_path))
                   .replace("/opt/check_es_snapshot/bin/check_es_snapshot", f"{sys.executable} {SCRIPT}")
                   .replace("https://es.example.com:9200", server.url)
                   .replace("/etc/check_es_snapshot/password", str(tmp_path / "password")))
    result = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)})
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["es_snapshot.prom", "password"]
    found = samples((tmp_path / "es_snapshot.prom").read_text())
    assert (found["es_snapshot_up", None], found["es_snapshot_state", "backups"]) == (1, 0)


def test_ok_control_characters_in_names_keep_the_file_parseable(serve):
    """A \\r, NUL or TAB in a repository name went into the label raw: Go's
    parser took the file, Python's (reading it with universal newlines, as
    run_check does) broke it at the \\r.  Each stays one series, readable."""
    names = ["cr\rname", "nul\x00name", "tab\tname", "ls\u2028name"]
    server = serve(Cluster("es8", {name: [Snap("s1", "SUCCESS", now_ms() - HOUR * S)] for name in names}))
    code, out, err = run_check("--url", server.url, "--format", "openmetrics")
    assert (code, err) == (0, "")
    found = samples(out)
    assert {repo for (name, repo) in found if name == "es_snapshot_state"} == {
        "cr%0Dname", "nul%00name", "tab%09name", "ls%E2%80%A8name"}
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f\u2028]", out)
