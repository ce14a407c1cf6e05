"""Icinga 2, Nagios 4 and cron, proven with the real programs (Debian packages
installed by .ci/run), plus the output grammar both cores parse."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plugin.options import build_parser
from tests.conftest import NOW_MS, ROOT, now_ms
from tests.fake_es import HOUR_MS, Cluster, Snap

ICINGA = ROOT / "icinga"
sys.path.insert(0, str(ICINGA))
import generate  # noqa: E402  (icinga/generate.py)


def need(program):
    """The real program: in CI it must be there (.ci/run installs it)."""
    path = shutil.which(program) or next((p for p in (f"/usr/sbin/{program}",) if os.path.exists(p)), None)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{program} is missing: .ci/run installs it")
        pytest.skip(f"{program} is not installed here (.ci/run installs it)")
    return path


@pytest.fixture
def plugin_dir(tmp_path):
    """A plugin directory holding check_es_snapshot, as an install would link it."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    wrapper = directory / "check_es_snapshot"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{ROOT / "check_es_snapshot.py"}" "$@"\n')
    wrapper.chmod(0o755)
    return directory


# -- the CheckCommand matches --help -------------------------------------------

def test_generated_files_are_current():
    for path, text in generate.outputs().items():
        assert path.read_text() == text, f"{path.name} is stale: run python icinga/generate.py"


def test_checkcommand_and_help_agree():
    conf = (ICINGA / "es_snapshot.conf").read_text()
    passed = set(re.findall(r'^\t\t"(--[a-z-]+)" = \{', conf, re.M))
    parser = build_parser()
    known = {o for a in parser._actions for o in a.option_strings}
    assert passed <= known, f"CheckCommand passes options --help lacks: {passed - known}"
    for action in parser._actions:
        if action.dest in generate.SKIPPED:  # not for scheduled checks
            continue
        reachable = set(action.option_strings) & passed or f"es_snapshot_{action.dest}" in conf
        assert reachable, f"{action.option_strings} has no CheckCommand var"
    assert "--password" not in passed, "secrets must go through env, not argv"
    assert 'env = {' in conf and 'ES_PASSWORD = "$es_snapshot_password$"' in conf


def test_vars_table_is_in_readme():
    readme = (ROOT / "README.md").read_text()
    assert (ICINGA / "vars.md").read_text() in readme


# -- Icinga 2 ------------------------------------------------------------------

def start_logged(args, log, **kwargs):
    """Popen with stdout and stderr in the file ``log``, never a pipe: a
    daemon logging into a pipe nobody reads blocks once 64 KB are
    written (carbon-cache --debug did, after three points per metric)."""
    with open(log, "wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, **kwargs)


def stop_group(daemon):
    """SIGTERM to the daemon's process group; icinga2 may hang on it, so
    after a short grace the whole group is killed."""
    os.killpg(daemon.pid, signal.SIGTERM)
    try:
        daemon.wait(timeout=1)
    except subprocess.TimeoutExpired:
        os.killpg(daemon.pid, signal.SIGKILL)
        daemon.wait()


def tail(log, size=3000):
    return Path(log).read_bytes()[-size:].decode(errors="replace") if Path(log).exists() else ""


def icinga_config(tmp_path, plugin_dir, body):
    main = tmp_path / "icinga2.conf"
    main.write_text(f'''
const PluginDir = "{plugin_dir}"
const PluginContribDir = "{plugin_dir}"
const ManubulonPluginDir = "{plugin_dir}"
const NodeName = "icinga-test"
const ZoneName = "icinga-test"
include <itl>
include <plugins>
include "{ICINGA / 'es_snapshot.conf'}"
{body}
''')
    dirs = {name: tmp_path / name.lower() for name in ("DataDir", "LogDir", "CacheDir", "SpoolDir", "InitRunDir")}
    for path in dirs.values():
        path.mkdir(exist_ok=True)
    (dirs["SpoolDir"] / "tmp").mkdir(exist_ok=True)
    (dirs["SpoolDir"] / "perfdata").mkdir(exist_ok=True)
    defines = [f"-D{k}={v}" for k, v in dirs.items()] + ["-DRunAsUser=root", "-DRunAsGroup=root"]
    return main, defines, dirs


def test_icinga_validates_command_and_example_services(tmp_path, plugin_dir):
    icinga2 = need("icinga2")
    body = f'''
include "{ICINGA / 'services.conf'}"
object Host "es-1" {{ check_command = "dummy"; address = "127.0.0.1"; vars.elasticsearch = true
  vars.es_monitor_password = "x" }}
object Host "aliyun-1" {{ check_command = "dummy"; address = "127.0.0.2"; vars.aliyun_elasticsearch = true
  vars.aliyun_es_password = "x" }}
'''
    main, defines, _ = icinga_config(tmp_path, plugin_dir, body)
    result = subprocess.run([icinga2, "daemon", "-C", "-c", str(main), *defines],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Instantiated 2 Services" in result.stdout


def test_icinga_records_state_output_and_perfdata(tmp_path, plugin_dir, serve):
    icinga2 = need("icinga2")
    secret = "icinga-env-secret"
    cluster = Cluster("es7.10", {"backups": [
        Snap("ok", "SUCCESS", now_ms() - 2 * HOUR_MS),
        Snap("half", "PARTIAL", now_ms() - HOUR_MS, shards_failed=2)]},
        auth={"user": "monitor", "password": secret})
    server = serve(cluster)
    body = f'''
object CheckerComponent "checker" {{ }}
object PerfdataWriter "perfdata" {{
  rotation_interval = 1s
  service_format_template = "STATE::$service.state$\\tEXIT::$service.last_check_result.exit_status$\\tOUTPUT::$service.output$\\tPERFDATA::$service.perfdata$"
}}
object Host "es" {{ check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }}
object Service "snapshots" {{
  host_name = "es"
  check_command = "es_snapshot"
  check_interval = 1s
  retry_interval = 1s
  vars.es_snapshot_url = "{server.url}"
  vars.es_snapshot_repository = [ "backups" ]
  vars.es_snapshot_user = "monitor"
  vars.es_snapshot_password = "{secret}"
}}
'''
    main, defines, dirs = icinga_config(tmp_path, plugin_dir, body)
    log = tmp_path / "icinga2.out"
    daemon = start_logged([icinga2, "daemon", "-c", str(main), *defines], log)
    line = None
    try:
        deadline = time.monotonic() + 90
        while line is None and time.monotonic() < deadline:
            time.sleep(0.1)
            for path in sorted((dirs["SpoolDir"] / "perfdata").glob("service-perfdata.*")):
                text = path.read_text().strip()
                if text:
                    line = text.splitlines()[0]
                    break
    finally:
        stop_group(daemon)
    assert line is not None, "Icinga ran no check: " + tail(log, 2000)
    fields = dict(item.split("::", 1) for item in line.split("\t"))
    assert fields["STATE"] == "WARNING" and fields["EXIT"] == "1"
    assert fields["OUTPUT"].strip() == "ES_SNAPSHOT WARNING - half PARTIAL 1h ago, 2/5 shards failed (repo backups)"
    perf = fields["PERFDATA"].split()
    assert [p.split("=")[0] for p in perf] == ["age", "duration", "failed_streak", "running",
                                                "shards_failed", "size"]
    assert re.fullmatch(r"age=\d+s;93600;180000;0", perf[0]) and perf[4] == "shards_failed=2;;;0"


# -- Nagios 4 ------------------------------------------------------------------

def nagios_objects(objects):
    """Minimal object definitions (one of each kind) in Nagios' own syntax."""
    return "".join("define %s {\n%s}\n" % (kind, "".join(f"    {k} {v}\n" for k, v in fields.items()))
                   for kind, fields in objects.items())


def test_nagios_accepts_command_and_services(tmp_path, plugin_dir):
    nagios = need("nagios4")
    (tmp_path / "resource.cfg").write_text(f"$USER1$={plugin_dir}\n$USER3$={tmp_path}/password\n")
    (tmp_path / "objects.cfg").write_text(nagios_objects({
        "timeperiod": {"timeperiod_name": "always", "alias": "Always", **{
            day: "00:00-24:00" for day in ("sunday", "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday")}},
        "command": {"command_name": "notify-nobody", "command_line": "/bin/true"},
        "contact": {"contact_name": "oncall", "host_notifications_enabled": "0",
                    "service_notifications_enabled": "0", "host_notification_period": "always",
                    "service_notification_period": "always", "host_notification_options": "n",
                    "service_notification_options": "n", "host_notification_commands": "notify-nobody",
                    "service_notification_commands": "notify-nobody"},
        "host": {"name": "linux-server", "register": "0", "max_check_attempts": "3",
                 "check_period": "always", "contacts": "oncall"},
        "service": {"name": "generic-service", "register": "0", "max_check_attempts": "3",
                    "check_interval": "5", "retry_interval": "1", "check_period": "always",
                    "notification_period": "always", "contacts": "oncall"},
    }))
    main = tmp_path / "nagios.cfg"
    main.write_text(f"""log_file={tmp_path}/nagios.log
cfg_file={tmp_path}/objects.cfg
cfg_file={ICINGA / 'nagios.cfg'}
resource_file={tmp_path}/resource.cfg
status_file={tmp_path}/status.dat
temp_file={tmp_path}/nagios.tmp
lock_file={tmp_path}/nagios.lock
temp_path={tmp_path}
check_result_path={tmp_path}
command_file={tmp_path}/nagios.cmd
illegal_macro_output_chars=`~$&|'"<>
nagios_user=root
nagios_group=root
""")
    result = subprocess.run([nagios, "-v", str(main)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Total Errors:   0" in result.stdout
    assert "Checked 2 services." in result.stdout


def test_nagios_accepts_the_shipped_file_beside_the_stock_configuration(tmp_path):
    """As shipped: Debian's own nagios.cfg (sample templates, contacts,
    localhost) plus icinga/nagios.cfg, nothing else, passes nagios4 -v."""
    nagios = need("nagios4")
    stock = Path("/etc/nagios4/nagios.cfg")
    if not stock.exists():
        pytest.skip("no stock /etc/nagios4/nagios.cfg")
    main = tmp_path / "nagios.cfg"  # nagios4 -v calls any other name "suspicious"
    # Only the user changes: nagios4 reads the files as nagios_user, and
    # pytest's temporary folder is root's alone.
    text = re.sub(r"(?m)^nagios_(user|group)=.*$", r"nagios_\1=root", stock.read_text())
    main.write_text(text + f"\ncfg_file={ICINGA / 'nagios.cfg'}\n")
    result = subprocess.run([nagios, "-v", str(main)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Total Errors:   0" in result.stdout, result.stdout + result.stderr


# -- the output grammar both cores parse ------------------------------------------

def parse_nagios(output):
    """base/checks.c parse_check_output: first line split on |, long output
    until the first line holding |, everything after that perfdata."""
    lines = output.rstrip("\n").split("\n")
    short, _, perf = lines[0].partition("|")
    long_lines, perf_parts = [], [perf.strip()] if perf.strip() else []
    in_perf = False
    for line in lines[1:]:
        if in_perf or "|" in line:
            text, _, more = line.partition("|") if not in_perf else ("", "", line)
            if not in_perf and text.strip():
                long_lines.append(text)
            in_perf = True
            perf_parts.append(more.strip())
        else:
            long_lines.append(line)
    return short.strip(), " ".join(p for p in perf_parts if p)


def parse_icinga(output):
    """PluginUtility::ParseCheckOutput: each line on its own; after a | with an
    = behind it the rest of that line is perfdata."""
    text, perf = [], []
    for line in output.rstrip("\n").split("\n"):
        head, bar, tail = line.partition("|")
        if bar and "=" in tail:
            text.append(head)
            perf.append(tail.strip())
        else:
            text.append(line)
    return text[0].strip(), " ".join(perf)


@pytest.mark.parametrize("verbosity", [[], ["-v"], ["-vv"], ["-vvv"]])
def test_output_parses_alike_in_nagios_and_icinga(inproc, verbosity):
    cluster = Cluster("es8", {"b": [Snap("s", "SUCCESS", NOW_MS - 2 * HOUR_MS),
                                    Snap("f", "FAILED", NOW_MS - HOUR_MS, reason="a | b", shards_failed=1)]})
    code, out, _ = inproc.run("--url", inproc(cluster).url, *verbosity)
    assert code == 2
    assert parse_nagios(out) == parse_icinga(out)
    short, perf = parse_nagios(out)
    assert short.startswith("ES_SNAPSHOT CRITICAL - f FAILED 1h ago: a / b")
    assert perf.split()[0].startswith("age=") and len(perf.split()) == 6
    assert sum("|" in line for line in out.splitlines()) == 1
    assert len(out.encode()) < 8192


def test_long_output_stays_under_nagios_limit(inproc):
    now = NOW_MS
    snaps = [Snap(f"failed-{i:05d}-" + "x" * 40, "FAILED", now - i * 60_000, reason="r" * 300, shards_failed=9)
             for i in range(2000)] + [Snap("ok", "SUCCESS", now - 3 * HOUR_MS)]
    repos = {f"repo{r}": snaps for r in range(3)}
    code, out, _ = inproc.run("--url", inproc(Cluster("es7.10", repos)).url, "-vvv")
    assert code == 2 and len(out.encode()) < 8192
    assert "more lines" in out


# -- cron --------------------------------------------------------------------------

def test_chronic_is_silent_on_ok_and_speaks_on_problems(serve, tmp_path):
    chronic = need("chronic")
    ok = serve(Cluster("es8", {"b": [Snap("s", "SUCCESS", now_ms() - HOUR_MS)]}))
    bad = serve(Cluster("es8", {"b": [Snap("s", "FAILED", now_ms() - HOUR_MS)]}))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # what cron gives, nothing more
    base = ["env", "-i", *(f"{k}={v}" for k, v in env.items()), chronic, "-e",
            sys.executable, str(ROOT / "check_es_snapshot.py")]
    quiet = subprocess.run(base + ["--url", ok.url], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL, timeout=30)
    assert (quiet.returncode, quiet.stdout, quiet.stderr) == (0, "", "")
    loud = subprocess.run(base + ["--url", bad.url], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=30)
    assert loud.returncode == 2
    assert loud.stdout.startswith("ES_SNAPSHOT CRITICAL - s FAILED 1h ago")


def test_unknown_when_a_dependency_is_missing(tmp_path):
    """A Python without nagiosplugin/requests: UNKNOWN, not a traceback (exit 1)."""
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    result = subprocess.run([str(bare / "bin" / "python"), str(ROOT / "check_es_snapshot.py")],
                            capture_output=True, text=True, cwd=str(tmp_path), timeout=30)
    assert (result.returncode, result.stderr) == (3, "")
    assert result.stdout == "ES_SNAPSHOT UNKNOWN - missing Python module nagiosplugin\n"


def test_installed_console_script():
    """pip install . puts check_es_snapshot on PATH, beside the venv's python."""
    script = Path(sys.executable).parent / "check_es_snapshot"
    if not script.exists():
        if os.environ.get("CI"):
            pytest.fail("pip install '.[test]' did not install the check_es_snapshot command")
        pytest.skip("the package is not installed in this environment")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=30)
    assert (result.returncode, result.stdout) == (3, "check_es_snapshot 0.1.0\n")
