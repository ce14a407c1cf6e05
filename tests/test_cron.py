"""--state-file from cron, proven with the installed check as cron runs it
(no terminal, no LANG, stdin /dev/null, PATH=/usr/bin:/bin): an incident
from start to end, concurrent runs, a lock held too long, a timeout, and
state files that are corrupt, foreign, on a read-only or a full file system.
The same incident through Debian's real cron and exim is in the system tier."""
import fcntl
import json
import os
import re
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, now_ms
from tests.fake_es import HOUR_MS, Cluster, Override, Snap

INSTALLED = Path(sys.executable).parent / "check_es_snapshot"


def installed():
    """The console script pip installed beside this Python (.ci/run: pip install '.[test]')."""
    if not INSTALLED.exists():
        if os.environ.get("CI"):
            pytest.fail("pip install '.[test]' did not install the check_es_snapshot command")
        pytest.skip("the package is not installed in this environment")
    return str(INSTALLED)


def cron_run(*args, timeout=60):
    """One run as cron makes it: (exit code, what cron would mail: stdout
    and stderr together, "" for no mail, seconds taken)."""
    started = time.monotonic()
    result = subprocess.run(["env", "-i", "PATH=/usr/bin:/bin", "SHELL=/bin/sh", "HOME=/", installed(), *args],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=timeout, cwd="/")
    return result.returncode, result.stdout, time.monotonic() - started


HEADLINE = re.compile(r"ES_SNAPSHOT (?P<what>.+?) - (?P<who>sim \(http://127\.0\.0\.1:\d+\)): (?P<status>.*)")


def headline(mail):
    first = mail.splitlines()[0]
    assert len(first) < 160, first
    match = HEADLINE.fullmatch(first)
    assert match, first
    return match.group("what"), match.group("status")


def failed(name, age_ms, reason):
    return Snap(name, "FAILED", now_ms() - age_ms, reason=reason, shards_failed=5)


def broken():
    """A repository whose newest snapshot failed after an older success."""
    return [failed("s", HOUR_MS, "disk full"), Snap("r", "SUCCESS", now_ms() - 3 * HOUR_MS)]


# -- the incident ----------------------------------------------------------------

def test_incident_mails_news_repeats_and_the_recovery_only(serve, tmp_path):
    """OK, FAILED, still FAILED (no mail), still FAILED after --notify-every
    (mail), FAILED with another snapshot (mail), SUCCESS (recovery mail),
    OK (no mail); every run exits with the check's own state."""
    every = 4
    good = [Snap("nightly-1", "SUCCESS", now_ms() - 3 * HOUR_MS)]
    cluster = Cluster("es8", {"backups": list(good)})
    server = serve(cluster)
    state = tmp_path / "es_snapshot.state"
    line = ["--url", server.url, "-r", "backups", "--state-file", str(state), "--notify-every", f"{every}s"]
    runs = []

    def run(label):
        code, mail, _ = cron_run(*line)
        runs.append((label, code, mail))
        return time.monotonic()

    run("1 OK")
    cluster.repositories["backups"] = [failed("nightly-2", HOUR_MS, "disk full"), *good]
    mailed = run("2 FAILED")
    run("3 still FAILED")
    quiet_for = time.monotonic() - mailed
    time.sleep(max(0.0, every + 0.3 - (time.monotonic() - mailed)))
    run("4 still FAILED, --notify-every later")
    cluster.repositories["backups"] = [failed("nightly-3", 60_000, "access denied"),
                                       failed("nightly-2", HOUR_MS, "disk full"), *good]
    run("5 another snapshot FAILED")
    cluster.repositories["backups"] = [Snap("nightly-4", "SUCCESS", now_ms() - 30_000),
                                       *cluster.repositories["backups"]]
    run("6 SUCCESS")
    run("7 OK")

    assert quiet_for < every, "run 3 came too late to prove the silence (a very slow machine?)"
    assert [(label, code, bool(mail)) for label, code, mail in runs] == [
        ("1 OK", 0, False), ("2 FAILED", 2, True), ("3 still FAILED", 2, False),
        ("4 still FAILED, --notify-every later", 2, True), ("5 another snapshot FAILED", 2, True),
        ("6 SUCCESS", 0, True), ("7 OK", 0, False)]
    mails = {label: mail for label, _, mail in runs if mail}
    _print_timeline(runs)

    what, status = headline(mails["2 FAILED"])
    assert (what, status) == ("CRITICAL", "nightly-2 FAILED 1h ago: disk full (repo backups)")
    assert "\n+ CRITICAL: nightly-2 FAILED 1h ago: disk full (repo backups)\n" in mails["2 FAILED"]
    assert "\nbefore: OK for " in mails["2 FAILED"]

    what, status = headline(mails["4 still FAILED, --notify-every later"])
    assert re.fullmatch(r"still CRITICAL for \d+s", what) and status.startswith("nightly-2 FAILED 1h ago")
    assert f"repeated every {every}s (--notify-every)" in mails["4 still FAILED, --notify-every later"]

    what, status = headline(mails["5 another snapshot FAILED"])
    assert (what, status) == ("CRITICAL", "nightly-3 FAILED 1m ago: access denied (repo backups)")
    assert "\n+ CRITICAL: nightly-3 FAILED 1m ago: access denied (repo backups)\n" in mails["5 another snapshot FAILED"]
    assert "\n- CRITICAL: nightly-2 FAILED 1h ago: disk full (repo backups)\n" in mails["5 another snapshot FAILED"]

    what, status = headline(mails["6 SUCCESS"])
    assert what == "RECOVERED"
    # What it was comes whole; the present status line gives way below 160 characters.
    assert re.fullmatch(r"nightly-4 SUCCESS, 30s ol.*\.\.\. \(was CRITICAL for \d+s: "
                        r"nightly-3 FAILED 1m ago: access denied \(repo backups\)\)", status), status
    assert "\nThe check's output:\nES_SNAPSHOT OK - nightly-4 SUCCESS" in mails["6 SUCCESS"]

    record = json.loads(state.read_text())
    assert (record["state"], record["recovered"]["state"]) == ("OK", "CRITICAL")
    print(f"state file after run 7:\n{state.read_text()}")


def _print_timeline(runs):
    """The timeline as the test saw it (pytest -s shows it; the report quotes it)."""
    for label, code, mail in runs:
        print(f"run {label}: exit {code}, " + ("mail:\n    " + mail.replace("\n", "\n    ") if mail else "no mail"))


def test_crit_comes_back_soon_after_its_recovery_says_again(serve, tmp_path):
    cluster = Cluster("es8", {"backups": [failed("nightly-2", HOUR_MS, "disk full")]})
    server = serve(cluster)
    line = ["--url", server.url, "--state-file", str(tmp_path / "s"), "--notify-every", "1h"]
    assert headline(cron_run(*line)[1])[0] == "CRITICAL"
    cluster.repositories["backups"] = [Snap("nightly-3", "SUCCESS", now_ms() - 60_000),
                                       failed("nightly-2", HOUR_MS, "disk full")]
    assert headline(cron_run(*line)[1])[0] == "RECOVERED"
    cluster.repositories["backups"] = [failed("nightly-4", 1000, "disk full"), *cluster.repositories["backups"]]
    code, mail, _ = cron_run(*line)
    assert (code, headline(mail)[0]) == (2, "CRITICAL again")


def test_crit_unreachable_cluster_is_named_by_its_url_alone(tmp_path):
    """No answer, no cluster_name: the mail names the URL (without the user)."""
    line = ["--url", "http://monitor:url-secret-77@127.0.0.1:9", "--state-file", str(tmp_path / "s")]
    code, mail, _ = cron_run(*line)
    assert code == 2
    assert re.fullmatch(r"ES_SNAPSHOT CRITICAL - http://127\.0\.0\.1:9: .*connection refused.*", mail.splitlines()[0])
    assert "monitor" not in (tmp_path / "s").read_text() and "url-secret-77" not in mail
    assert cron_run(*line)[:2] == (2, "")


def test_ok_without_state_file_nothing_changes(serve):
    server = serve(Cluster("es8", {"b": [Snap("s", "SUCCESS", now_ms() - HOUR_MS)]}))
    code, out, _ = cron_run("--url", server.url)
    assert code == 0 and out.startswith("ES_SNAPSHOT OK - s SUCCESS, 1h old (repo b) | age=")


def test_crit_with_verbose_the_mail_carries_the_v_detail(serve, tmp_path):
    server = serve(Cluster("es8", {"b": broken()}))
    code, mail, _ = cron_run("--url", server.url, "--state-file", str(tmp_path / "s"), "-v")
    assert code == 2
    assert "\nThe check's output:\nES_SNAPSHOT CRITICAL - s FAILED 1h ago: disk full (repo b)\n" in mail
    assert "\nrepository b: 2 snapshot(s) read, newest 2:\n" in mail
    assert "    reason: disk full\n" in mail


def test_readme_state_file_line_runs_as_documented(serve, tmp_path):
    section = (ROOT / "README.md").read_text().split("### cron\n")[1].split("\n### ")[0]
    line = re.search(r"^\*/15 \* \* \* \*  (/opt/\S+ .*--state-file .*)$", section, re.M).group(1)
    secret = "readme-cron-secret"
    server = serve(Cluster("es8", {"backups": broken()}, auth={"user": "monitor", "password": secret}))
    (tmp_path / "password").write_text(secret + "\n")
    (tmp_path / "password").chmod(0o600)
    args = (line.replace("https://es.example.com:9200", server.url)
            .replace("/etc/check_es_snapshot/password", str(tmp_path / "password"))
            .replace("/var/lib/check_es_snapshot/", f"{tmp_path}/")).split()[1:]
    code, mail, _ = cron_run(*args)
    assert code == 2 and headline(mail) == ("CRITICAL", "s FAILED 1h ago: disk full (repo backups)")
    assert cron_run(*args)[:2] == (2, "")
    assert (tmp_path / "backups.state").exists()


# -- the options -------------------------------------------------------------------

@pytest.mark.parametrize("args, said", [
    (["--format", "json"], "--state-file needs --format nagios: a program reads --format json on every run"),
    (["--format", "openmetrics"], "--state-file needs --format nagios"),
    (["--notify-every", "soon"], "--notify-every: 'soon' is not a duration"),
    (["--notify-every", "0"], "--notify-every must be 1s or longer"),
    (["--state-file", "/tmp"], "--state-file takes a file name (its directory must exist)"),
])
def test_unknown_usage_error_with_state_file_is_said_every_run(tmp_path, args, said):
    state = tmp_path / "s"
    for _ in range(2):
        code, out, _ = cron_run("--url", "http://127.0.0.1:9", "--state-file", str(state), *args)
        if out.startswith("{"):  # --format json: a usage error is a JSON document too (output.py)
            out = "ES_SNAPSHOT UNKNOWN - " + json.loads(out)["summary"]
        assert code == 3 and out.startswith(f"ES_SNAPSHOT UNKNOWN - usage: {said}"), out
    assert not state.exists()


def test_unknown_usage_error_found_after_parsing_is_said_every_run_too(tmp_path):
    state = tmp_path / "s"
    for _ in range(2):
        code, out, _ = cron_run("--url", "http://127.0.0.1:9", "--state-file", str(state), "-w", "2d", "-c", "1d")
        assert code == 3 and out.startswith("ES_SNAPSHOT UNKNOWN - usage: -w 2d is not below -c 1d")
    assert not state.exists()


def test_unknown_notify_every_without_state_file_is_a_usage_error():
    code, out, _ = cron_run("--url", "http://127.0.0.1:9", "--notify-every", "4h")
    assert code == 3 and out.startswith("ES_SNAPSHOT UNKNOWN - usage: --notify-every needs --state-file")


# -- the state file ----------------------------------------------------------------

def test_state_file_holds_no_secret_and_is_0600(serve, tmp_path):
    secret = "cron-secret-Zq8"
    cluster = Cluster("es8", {"b": broken()}, auth={"user": "mon", "password": secret})
    server = serve(cluster)
    state = tmp_path / "s"
    url = server.url.replace("http://", f"http://mon:{secret}@")
    code, mail, _ = cron_run("--url", url, "--state-file", str(state), "-vvv")
    assert code == 2, mail
    assert secret not in mail and secret not in state.read_text()
    assert f"sim ({server.url}): s FAILED" in mail.splitlines()[0]
    for path in (state, tmp_path / "s.lock"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_crit_concurrent_runs_mail_once(serve, tmp_path):
    server = serve(Cluster("es8", {"b": broken()}))
    line = ["--url", server.url, "--state-file", str(tmp_path / "s")]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: cron_run(*line), range(6)))
    assert [code for code, _, _ in results] == [2] * 6
    mails = [mail for _, mail, _ in results if mail]
    assert len(mails) == 1 and headline(mails[0])[0] == "CRITICAL"
    assert cron_run(*line)[1] == ""


def test_crit_lock_held_beyond_t_is_news_within_t(serve, tmp_path):
    server = serve(Cluster("es8", {"b": broken()}))
    state = tmp_path / "s"
    line = ["--url", server.url, "--state-file", str(state), "-t", "2"]
    assert cron_run(*line)[1]  # reported once
    with open(f"{state}.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # a run that hangs while it holds the lock
        code, mail, took = cron_run(*line)
    assert code == 2 and took < 2.5  # -t, and the lock gave up with it
    lines = mail.splitlines()
    assert re.fullmatch(rf"ES_SNAPSHOT UNKNOWN - state file {state} is locked by another run "
                        r"\(waited \d\.\ds, -t\); reported without it", lines[1]), lines
    assert headline(mail)[0] == "CRITICAL"  # reported as new: nothing could be read


def test_unknown_timeout_is_recorded_so_it_is_news_once(serve, tmp_path):
    cluster = Cluster("es8", {"b": [Snap("s", "SUCCESS", now_ms() - HOUR_MS)]})
    cluster.overrides.append((r".*", Override(delay_s=5)))
    server = serve(cluster)
    line = ["--url", server.url, "--state-file", str(tmp_path / "s"), "-t", "1"]
    code, mail, took = cron_run(*line)
    assert code in (2, 3) and took < 2.5
    assert "timed out" in mail.splitlines()[0]
    code_again, again, _ = cron_run(*line)
    assert (code_again, again) == (code, "")
    cluster.overrides.clear()
    code, mail, _ = cron_run(*line)
    assert code == 0 and headline(mail)[0] == "RECOVERED"


def test_unknown_check_killed_at_t_is_recorded_and_the_run_ends_within_t(tmp_path):
    """The check blocked in C (see test_hardening): the supervisor kills it
    at -t and prints the timeout line; the bookkeeping around it records
    that, so the second such run is quiet, and -t still ends the run."""
    (tmp_path / "sitecustomize.py").write_text("import plugin.client as c\n"
                                               "c.EsClient.get = lambda self, *a, **k: sum(range(10 ** 15))\n")
    state = tmp_path / "s"
    runs = []
    for _ in range(2):
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(ROOT / "check_es_snapshot.py"), "-t", "2",
                                 "--url", "http://127.0.0.1:9", "--state-file", str(state)],
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                                env={"PATH": os.environ["PATH"], "PYTHONPATH": f"{tmp_path}:{ROOT}"})
        runs.append((result.returncode, result.stdout, result.stderr, time.monotonic() - started))
    (code, mail, err, took), (code_2, mail_2, err_2, took_2) = runs
    assert (code, err) == (3, "") and took < 2.6
    assert mail.splitlines()[0] == "ES_SNAPSHOT UNKNOWN - http://127.0.0.1:9: plugin timed out after 2s (-t)"
    assert (code_2, mail_2, err_2) == (3, "", "") and took_2 < 2.6
    assert json.loads(state.read_text())["status"] == "plugin timed out after 2s (-t)"


def test_ok_corrupt_state_file_is_news_and_rewritten(serve, tmp_path):
    server = serve(Cluster("es8", {"b": [Snap("s", "SUCCESS", now_ms() - HOUR_MS)]}))
    state = tmp_path / "s"
    state.write_text('{"file": "check_es_snapshot state file", "version": 1, "sta')
    code, mail, _ = cron_run("--url", server.url, "--state-file", str(state))
    assert code == 0
    assert mail.splitlines()[0] == (f"ES_SNAPSHOT UNKNOWN - state file {state} is corrupt (not JSON): "
                                    "rewritten; the present state is reported as new")
    assert re.fullmatch(r"ES_SNAPSHOT OK - sim \(http://127.0.0.1:\d+\): s SUCCESS, 1h old \(repo b\)",
                        mail.splitlines()[1])
    assert json.loads(state.read_text())["state"] == "OK"
    assert cron_run("--url", server.url, "--state-file", str(state))[1] == ""


def test_crit_foreign_state_file_is_news(serve, tmp_path):
    """A state file written for another repository list (or URL, or
    thresholds) is not trusted: its silence would be about another check."""
    server = serve(Cluster("es8", {"a": [failed("s", HOUR_MS, "disk full")], "b": []}))
    state = tmp_path / "s"
    assert cron_run("--url", server.url, "-r", "a", "--state-file", str(state))[1]
    assert cron_run("--url", server.url, "-r", "a", "--state-file", str(state), "-v")[1] == ""  # -v is no verdict
    code, mail, _ = cron_run("--url", server.url, "-r", "a", "-c", "3d", "--state-file", str(state))
    assert code == 2 and headline(mail)[0] == "CRITICAL"
    assert mail.splitlines()[1] == (f"ES_SNAPSHOT UNKNOWN - state file {state} belongs to another check "
                                    f"({server.url}, repositories a): rewritten; the present state is "
                                    "reported as new")


# -- file systems that refuse the write (root: mount a tmpfs of our own) ---------------

@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 KB tmpfs, mounted for the test and unmounted after it."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    mount = tmp_path / "mnt"
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs: {result.stderr}")
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_crit_read_only_state_file_is_said_every_run(serve, small_tmpfs):
    """Readable, and it says CRITICAL was reported: without the failed
    write being news, every later run would be silent."""
    server = serve(Cluster("es8", {"b": broken()}))
    state = small_tmpfs / "s"
    line = ["--url", server.url, "--state-file", str(state)]
    assert cron_run(*line)[1]
    assert cron_run(*line)[1] == ""
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    for _ in range(2):
        code, mail, _ = cron_run(*line)
        assert code == 2
        assert mail.splitlines()[0] == (f"ES_SNAPSHOT UNKNOWN - state file {state} cannot be written "
                                        "(Read-only file system): every run is reported until it is fixed")
        assert re.fullmatch(r"ES_SNAPSHOT CRITICAL - sim \(http://127.0.0.1:\d+\): s FAILED 1h ago: disk full "
                            r"\(repo b\)", mail.splitlines()[1])


def test_ok_disk_full_is_said_and_the_old_state_file_kept(serve, small_tmpfs):
    cluster = Cluster("es8", {"b": broken()})
    server = serve(cluster)
    state = small_tmpfs / "s"
    line = ["--url", server.url, "--state-file", str(state)]
    assert cron_run(*line)[0] == 2
    before = state.read_bytes()
    filler = os.open(small_tmpfs / "filler", os.O_WRONLY | os.O_CREAT)
    try:  # fill the file system to the last block
        while True:
            os.write(filler, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(filler)
    cluster.repositories["b"] = [Snap("t", "SUCCESS", now_ms() - 60_000), *cluster.repositories["b"]]
    for _ in range(2):
        code, mail, _ = cron_run(*line)
        assert code == 0
        assert mail.splitlines()[0].startswith("ES_SNAPSHOT RECOVERED - sim")
        assert mail.splitlines()[1] == (f"ES_SNAPSHOT UNKNOWN - state file {state} cannot be written "
                                        "(No space left on device): every run is reported until it is fixed")
    assert state.read_bytes() == before
    assert sorted(p.name for p in small_tmpfs.iterdir()) == ["filler", "s", "s.lock"]  # no temp file left
    (small_tmpfs / "filler").unlink()
    assert headline(cron_run(*line)[1])[0] == "RECOVERED"
    assert cron_run(*line)[1] == ""


# -- the same incident through Debian's cron, mailed by exim ------------------------

STEP = """#!/bin/sh
# Run k of the incident: once (cron starts every line each minute), when
# the test says go (it sets the cluster's state first); records the exit code.
cd "$(dirname "$0")" || exit 1
k=$1; shift
[ -e "done.$k" ] && exit 0
i=0
while [ ! -e "go.$k" ]; do
    i=$((i + 1)); [ "$i" -gt 1200 ] && exit 0
    sleep 0.1
done
"$@"
echo $? > "code.$k"
touch "done.$k"
"""


@pytest.fixture
def mailbox_user():
    """A throw-away local user whose mailbox exim fills (/var/mail/NAME)."""
    import shutil
    import tempfile
    if os.geteuid() != 0:
        pytest.skip("cron.d, useradd and exim's local delivery need root (CI runs as root)")
    for program in ("cron", "exim4", "useradd"):
        if not shutil.which(program, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            if os.environ.get("CI"):
                pytest.fail(f"{program} is missing: .ci/run installs cron and exim4-daemon-light")
            pytest.skip(f"{program} is not installed here (.ci/run installs cron and exim4-daemon-light)")
    name = f"esnap{os.getpid() % 100000}"
    home = tempfile.mkdtemp(prefix="esnap-home-")  # exim delivers from the user's home
    os.chmod(home, 0o755)
    subprocess.run(["useradd", "--system", "--home-dir", f"{home}/h", "--create-home",
                    "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name, Path("/var/mail") / name
    finally:
        subprocess.run(["userdel", name], check=False)
        Path("/var/mail", name).unlink(missing_ok=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def cron_daemon():
    """cron -f of our own, and a file in /etc/cron.d it reads at start."""
    crontab = Path("/etc/cron.d") / f"check_es_snapshot_test_{os.getpid()}"
    started = []

    def start(text):
        crontab.write_text(text)
        crontab.chmod(0o644)
        daemon = subprocess.Popen(["cron", "-f"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            daemon.wait(timeout=1)  # another cron runs already: it reads /etc/cron.d each minute
        except subprocess.TimeoutExpired:
            started.append(daemon)

    yield start
    crontab.unlink(missing_ok=True)
    for daemon in started:
        os.killpg(daemon.pid, 15)
        daemon.wait(timeout=10)


@pytest.mark.system
def test_incident_through_real_cron_mails_news_and_the_recovery(serve, tmp_path, mailbox_user, cron_daemon):
    """Debian's cron runs the installed check from /etc/cron.d with MAILTO;
    exim4 (local delivery) puts each mail in the user's mailbox.  Seven
    cron jobs of the same minute, one a step of the incident, each started
    when the test has set the cluster: the mails are exactly the news."""
    import mailbox
    user, spool = mailbox_user
    every = 4
    good = [Snap("nightly-1", "SUCCESS", now_ms() - 3 * HOUR_MS)]
    cluster = Cluster("es8", {"backups": list(good)})
    server = serve(cluster)
    work = tmp_path / "cron"
    work.mkdir()
    (work / "step").write_text(STEP)
    (work / "step").chmod(0o755)
    check = (f"{installed()} --url {server.url} -r backups --state-file {work}/es_snapshot.state "
             f"--notify-every {every}s")
    lines = [f"* * * * *  root  {work}/step {k} {check}" for k in range(1, 8)]
    cron_daemon(f"MAILTO={user}\n" + "\n".join(lines) + "\n")
    states = {  # made when the step comes: step 1 waits up to a minute for cron
        2: lambda: [failed("nightly-2", HOUR_MS, "disk full"), *good],
        5: lambda: [failed("nightly-3", 60_000, "access denied"), *cluster.repositories["backups"]],
        6: lambda: [Snap("nightly-4", "SUCCESS", now_ms() - 30_000), *cluster.repositories["backups"]],
    }
    finished = {}
    for k in range(1, 8):
        if k in states:
            cluster.repositories["backups"] = states[k]()
        if k == 4:  # --notify-every after the mail of step 2
            time.sleep(max(0.0, finished[2] + every + 0.3 - time.monotonic()))
        (work / f"go.{k}").touch()
        deadline = time.monotonic() + (75 if k == 1 else 20)  # step 1 waits for the minute
        while not (work / f"done.{k}").exists():
            assert time.monotonic() < deadline, f"cron did not run step {k}"
            time.sleep(0.05)
        finished[k] = time.monotonic()
    assert finished[3] - finished[2] < every, "step 3 came too late to prove the silence"
    codes = {k: int((work / f"code.{k}").read_text()) for k in range(1, 8)}
    assert codes == {1: 0, 2: 2, 3: 2, 4: 2, 5: 2, 6: 0, 7: 0}

    deadline = time.monotonic() + 20  # cron hands each mail to sendmail once the job ends
    while True:
        mails = list(mailbox.mbox(str(spool))) if spool.exists() else []
        if len(mails) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    time.sleep(1)  # and no fifth one straggles in
    mails = list(mailbox.mbox(str(spool)))
    by_step = {}
    for mail in mails:
        step = re.search(r"/step (\d) ", mail["Subject"].replace("\n", " ")).group(1)
        by_step[int(step)] = mail.get_payload(decode=True).decode()
        print(f"--- mail of step {step}, Subject: {mail['Subject']}\n{by_step[int(step)]}")
    assert sorted(by_step) == [2, 4, 5, 6], "mails for exactly the news"
    assert len(mails) == 4
    assert headline(by_step[2]) == ("CRITICAL", "nightly-2 FAILED 1h ago: disk full (repo backups)")
    assert re.fullmatch(r"still CRITICAL for \d+s", headline(by_step[4])[0])
    assert headline(by_step[5]) == ("CRITICAL", "nightly-3 FAILED 1m ago: access denied (repo backups)")
    assert headline(by_step[6])[0] == "RECOVERED"
    assert "(was CRITICAL for " in headline(by_step[6])[1]
