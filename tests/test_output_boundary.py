"""What leaves the process, whatever ends the run: one renderer of failures
per format (output.py), the parent's reading of argv (options.peek), --help
whole, perfdata within 8 KB, a closed stdout, signals to the parent."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from plugin.output import NAGIOS_OUTPUT_LIMIT
from tests.conftest import NOW_MS, ROOT, SCRIPT, now_ms, run_check
from tests.fake_es import HOUR_MS, Cluster, Override, Snap
from tests.incheck import main_with_client

ENV = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}


def series(text):
    """{(metric, repository label or None): value}; raises if not an exposition."""
    assert text.endswith("# EOF\n"), text
    return {(s.name, s.labels.get("repository")): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def stuck_hook(tmp_path):
    """A sitecustomize that blocks the check in C (the GIL held) at its first
    request: only the supervising parent can end the run (see test_hardening)."""
    (tmp_path / "sitecustomize.py").write_text(
        "import plugin.client as c\n"
        "c.EsClient.get = lambda self, *a, **k: sum(range(10 ** 15))\n")
    return {**ENV, "PYTHONPATH": f"{tmp_path}:{ROOT}"}


# -- 1. one failure renderer ---------------------------------------------------------

@pytest.mark.parametrize("fmt", [["--format", "openmetrics"], ["--format=openmetrics"], ["-v", "--format=openmetrics"]])
def test_unknown_usage_error_keeps_the_exposition_valid(fmt):
    code, out, err = run_check(*fmt, "-r", "b1,b2", "--bogus")
    assert code == 3
    assert series(out) == {("es_snapshot_up", None): 0, ("es_snapshot_check_state", None): 3,
                           ("es_snapshot_state", "b1"): 3, ("es_snapshot_state", "b2"): 3}
    assert err == "ES_SNAPSHOT UNKNOWN - usage: unrecognized arguments: --bogus\n"


def test_unknown_usage_error_in_json_is_a_document():
    code, out, err = run_check("--format", "json", "-w", "2d", "-c", "1d")
    document = json.loads(out)
    assert (code, err, document["state"], document["exit_code"]) == (3, "", "UNKNOWN", 3)
    assert document["summary"] == ("usage: -w 2d is not below -c 1d: WARNING could never fire "
                                   "(swap them: -w 1d -c 2d)")


def test_unknown_timeout_in_the_parent_keeps_the_named_repositories(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "-t", "1", "--url", "http://127.0.0.1:9",
                             "--format", "openmetrics", "-r", "nightly", "-r", "weekly"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env=stuck_hook(tmp_path))
    assert result.returncode == 3
    assert series(result.stdout) == {
        ("es_snapshot_up", None): 0, ("es_snapshot_check_state", None): 3,
        ("es_snapshot_state", "nightly"): 3, ("es_snapshot_state", "weekly"): 3}
    assert result.stderr == "ES_SNAPSHOT UNKNOWN - plugin timed out after 1s (-t)\n"


class RaisingClient:
    def get(self, path, params=None, *, what=""):
        raise ZeroDivisionError("boom")


@pytest.mark.parametrize("verbose", [[], ["-vvv"]])
def test_unknown_internal_error_in_json_is_a_document(verbose):
    code, out, err = main_with_client(RaisingClient(), "--format", "json", *verbose)
    document = json.loads(out)
    assert (code, err, document["state"]) == (3, "", "UNKNOWN")
    assert document["summary"] == "internal error: ZeroDivisionError: boom"


class InterruptedClient:
    def get(self, path, params=None, *, what="", decode=None):
        raise KeyboardInterrupt


def test_unknown_ctrl_c_in_process_keeps_the_exposition():
    """Unsupervised (no fork): Ctrl-C still ends in the format asked for."""
    code, out, err = main_with_client(InterruptedClient(), "--format", "openmetrics", "-r", "b")
    assert code == 3
    assert series(out)[("es_snapshot_state", "b")] == 3
    assert err == "ES_SNAPSHOT UNKNOWN - interrupted (Ctrl-C or SIGINT)\n"


def deep_cluster():
    deep = 0
    for _ in range(600):
        deep = [deep]
    body = json.dumps({"snapshots": [{
        "snapshot": "s1", "repository": "backups", "uuid": "u", "state": "PARTIAL", "indices": ["i"],
        "start_time_in_millis": NOW_MS - HOUR_MS, "end_time_in_millis": NOW_MS - HOUR_MS + 60000,
        "duration_in_millis": 60000, "shards": {"total": 2, "failed": 1, "successful": 1},
        "failures": [{"index": "i", "shard_id": deep, "reason": "disk"}]}], "total": 1, "remaining": 0})
    cluster = Cluster("es8", {"backups": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    cluster.overrides.append(("^/_snapshot/backups(?!/_current)", Override(200, body.encode())))  # not _current: it lists running ones only
    return cluster


@pytest.mark.parametrize("fmt", ["nagios", "json"])
def test_crit_600_deep_shard_id_is_no_internal_error(inproc, fmt):
    server = inproc(deep_cluster())
    code, out, err = inproc.run("--url", server.url, "--format", fmt, "-v")
    assert (code, err) == (2, "")  # PARTIAL, and no success at all
    assert "internal error" not in out
    if fmt == "json":
        failure = json.loads(out)["repositories"][0]["newest"]["shard_failures"][0]
        assert failure == {"index": "i", "shard": "?", "reason": "disk"}
    else:
        assert "    shard i[?]: disk" in out.splitlines()


@pytest.mark.parametrize("fmt", ["nagios", "json"])
def test_unknown_repository_name_with_a_lone_surrogate_is_no_internal_error(inproc, fmt):
    server = inproc(Cluster("es8", {"ba\udcffck": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]}))
    code, out, err = inproc.run("--url", server.url, "--format", fmt)
    line = ("unexpected answer from the cluster: repository name 'ba\\udcffck' is not valid Unicode "
            "(a lone surrogate)")
    assert (code, err) == (3, "")
    if fmt == "json":
        assert json.loads(out)["summary"] == line
    else:
        assert out == f"ES_SNAPSHOT UNKNOWN - {line}\n"


def test_unknown_repository_argument_not_in_utf8():
    result = subprocess.run([sys.executable, str(SCRIPT), b"-r", b"ba\xffck"], capture_output=True,
                            timeout=60, stdin=subprocess.DEVNULL, env={**ENV, "LC_ALL": "C.UTF-8"})
    assert (result.returncode, result.stderr) == (3, b"")
    assert result.stdout.splitlines()[0] == (b"ES_SNAPSHOT UNKNOWN - usage: -r takes a name in UTF-8 "
                                             b"(it is part of the request URL)")


# -- 2. the parent reads argv by the parser's rules -------------------------------------

def test_unknown_combined_short_options_give_the_parent_its_deadline(tmp_path):
    """-vt2 is -v -t 2: the parent ends the stuck run at 2 s, not at the default 10 s."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(SCRIPT), "-vt2", "--url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env=stuck_hook(tmp_path))
    assert time.monotonic() - started < 6
    assert (result.returncode, result.stdout) == (3, "ES_SNAPSHOT UNKNOWN - plugin timed out after 2s (-t)\n")


def test_unknown_timeout_in_other_digits():
    code, out, err = run_check("-t", "\u0661\u0662", "--url", "http://127.0.0.1:9")
    assert (code, err) == (3, "")
    assert out.splitlines()[0].startswith("ES_SNAPSHOT UNKNOWN - usage: '\u0661\u0662' is not a duration")


def test_parent_imports_nothing_the_check_alone_needs():
    """The parent's start-up stays cheap: what only the child uses (requests,
    the HTTP client, ctypes for prctl) is imported after the fork."""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c",
                             "import sys; sys.argv[1:] = ['-t', '5']; from plugin import cli; "
                             "from plugin.options import peek; peek(sys.argv[1:])"],
                            capture_output=True, text=True, timeout=60, cwd=str(ROOT), env=ENV)
    modules = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "plugin.options" in modules
    assert not modules & {"requests", "urllib3", "plugin.client", "ctypes"}, modules


# -- 3. --help whole ---------------------------------------------------------------------

@pytest.mark.skipif(sys.version_info >= (3, 13), reason="argparse 3.13 writes '-H, --hostname HOSTNAME': "
                    "the README carries the help of Debian 12's Python 3.11 (as test_docs)")
def test_help_is_whole_and_is_the_readme_options_block():
    code, out, err = run_check("--help", env={"COLUMNS": "80"})
    assert (code, err) == (3, "")
    assert "output cut" not in out
    assert out.rstrip().endswith("-vvv debug detail and tracebacks.")
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## Options\n")[1].split("```\n")[1]
    assert out == block


# -- 4. perfdata within 8 KB ---------------------------------------------------------------

def tenants(count):
    return Cluster("es8", {f"tenant-{n:02d}": [Snap(f"s{n}", "SUCCESS", now_ms() - HOUR_MS)]
                           for n in range(count)})


def perfdata(out):
    """Every perfdata token as Nagios reads them (first line after |, and
    every line after the first one holding |)."""
    lines = out.rstrip("\n").split("\n")
    tokens = lines[0].partition("|")[2].split()
    rest = next((i for i, line in enumerate(lines[1:], 1) if "|" in line), None)
    if rest is not None:
        tokens += lines[rest].partition("|")[2].split()
        tokens += [t for line in lines[rest + 1:] for t in line.split()]
    return tokens


TOKEN = re.compile(r"('[^']+'|[^'= ]+)=-?[0-9.]+[a-zA-Z%]*(;[^; ]*){0,4}")


@pytest.mark.parametrize("count, verbose", [(40, ["-v"]), (60, []), (60, ["-vv"]), (200, ["-v"])])
def test_ok_perfdata_is_never_lost_nor_cut_mid_token(serve, count, verbose):
    server = serve(tenants(count))
    code, out, err = run_check("--url", server.url, *verbose)
    assert (code, err) == (0, "")
    assert len(out.encode()) <= NAGIOS_OUTPUT_LIMIT and "output cut" not in out
    tokens = perfdata(out)
    assert all(TOKEN.fullmatch(t) for t in tokens), [t for t in tokens if not TOKEN.fullmatch(t)]
    labels = [t.partition("=")[0].strip("'") for t in tokens]
    overall = ["age", "duration", "failed_streak", "running", "shards_failed", "size"]
    assert labels[:6] == overall
    # Whole repositories are kept or left out, five labels each.
    kept = {label.rpartition("_")[0].replace("_failed", "") for label in labels[6:]}
    assert len(labels) == 6 + 5 * len(kept)
    if verbose:
        dropped = count - len(kept)
        notes = [line for line in out.splitlines() if line.startswith("note: perfdata of")]
        assert notes == ([f"note: perfdata of {dropped} of {count} repositories left out "
                          "(Nagios keeps 8 KB of output; --format json has them all)"] if dropped else [])


def test_ok_few_repositories_keep_every_label_and_the_long_output(serve):
    server = serve(tenants(5))
    code, out, err = run_check("--url", server.url, "-v")
    assert len(perfdata(out)) == 6 + 5 * 5
    assert "repository tenant-04: 1 snapshot(s) read, newest 1:" in out.splitlines()


# -- 5. closed stdout ----------------------------------------------------------------------

def test_unknown_closed_stdout_exits_3_without_traceback():
    result = subprocess.run([sys.executable, str(SCRIPT), "--url", "http://127.0.0.1:9"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60, env=ENV,
                            preexec_fn=lambda: os.close(1))
    assert (result.returncode, result.stderr) == (3, b"ES_SNAPSHOT UNKNOWN - standard output is closed\n")


# -- 6. signals to the parent ----------------------------------------------------------------

def started_run(server_cluster, serve, *args):
    server = serve(server_cluster)
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--url", server.url, "-t", "30", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env=ENV)
    deadline = time.monotonic() + 20
    while not server_cluster.log and time.monotonic() < deadline:  # the child's request is out
        time.sleep(0.05)
    # The supervised check: the parent's only child.
    child = int(open(f"/proc/{process.pid}/task/{process.pid}/children").read().split()[0])
    return process, child


def hanging():
    c = Cluster("es8", {"b": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    c.overrides.append(("^/_snapshot", Override(200, b"{}", delay_s=25)))  # the first request, whichever
    return c


def gone(pid, within=5.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rpartition(")")[2].split()[0] == "Z":
                    return True  # dead, waiting for its new parent to reap it
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("signum, fmt", [(signal.SIGTERM, "nagios"), (signal.SIGHUP, "nagios"),
                                         (signal.SIGTERM, "json"), (signal.SIGHUP, "openmetrics"),
                                         (signal.SIGUSR1, "nagios"), (signal.SIGALRM, "nagios")])
def test_unknown_signal_to_the_parent_still_writes_its_line(serve, signum, fmt):
    process, child = started_run(hanging(), serve, "--format", fmt, "-r", "b")
    process.send_signal(signum)
    out, err = process.communicate(timeout=20)
    name = signal.Signals(signum).name
    assert process.returncode == 3
    if fmt == "nagios":
        assert (out, err) == (f"ES_SNAPSHOT UNKNOWN - interrupted by {name}\n".encode(), b"")
    elif fmt == "json":
        assert json.loads(out)["summary"] == f"interrupted by {name}" and err == b""
    else:
        assert series(out.decode())[("es_snapshot_state", "b")] == 3
        assert err == f"ES_SNAPSHOT UNKNOWN - interrupted by {name}\n".encode()
    assert gone(child)


def test_child_dies_with_a_parent_killed_by_sigkill(serve):
    process, child = started_run(hanging(), serve)
    process.kill()
    process.communicate(timeout=20)
    assert gone(child), "the check outlived its supervisor"
