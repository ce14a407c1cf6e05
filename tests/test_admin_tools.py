"""Where Icinga and Nagios admins meet the plugin (issue 12), each proven with
the real Debian program that .ci/run installs: Icinga 2 on IPv6-only hosts and
with counted verbosity, Icinga Director, the graphite chain, the .deb.

Select them with -k ipv6, -k verbos, -k director, -k graphite, -k debian."""
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, now_ms
from tests.fake_es import HOUR_MS, Cluster, Snap
from tests.test_integrations import ICINGA, icinga_config, need


@pytest.fixture
def argv_plugin_dir(tmp_path):
    """A plugin directory whose check_es_snapshot records the command line
    Icinga built (one shell-quoted line per run, headed by CHECK_SERVICE),
    then runs the real plugin with it."""
    directory = tmp_path / "plugins"
    directory.mkdir()
    log = tmp_path / "argv.log"
    wrapper = directory / "check_es_snapshot"
    wrapper.write_text(f"""#!/bin/sh
{{ printf '%s' "$CHECK_SERVICE"; for a in "$@"; do printf ' %s' "'$a'"; done; echo; }} >> "{log}"
exec "{sys.executable}" "{ROOT / 'check_es_snapshot.py'}" "$@"
""")
    wrapper.chmod(0o755)
    return directory, log


def command_lines(log):
    """{service: argv after the program} from the wrapper's log (first run each)."""
    seen = {}
    for line in log.read_text().splitlines() if log.exists() else ():
        service, _, args = line.partition(" ")
        seen.setdefault(service, shlex.split(args))
    return seen


PERFDATA_WRITER = r'''
object CheckerComponent "checker" { }
object PerfdataWriter "perfdata" {
  rotation_interval = 1s
  service_format_template = "SERVICE::$service.name$\tSTATE::$service.state$\tOUTPUT::$service.output$\tPERFDATA::$service.perfdata$"
}
/* The shipped command, plus the service name in the wrapper's environment. */
object CheckCommand "es_snapshot_logged" {
  import "es_snapshot"
  env.CHECK_SERVICE = "$service.name$"
}
'''


def run_icinga(tmp_path, plugin_dir, body, services, timeout=90, config=icinga_config):
    """Run a real Icinga 2 daemon until every named service has written a
    perfdata line; returns {service: {STATE, OUTPUT, PERFDATA}}.  The daemon
    is always stopped, also when the wait fails."""
    icinga2 = need("icinga2")
    main, defines, dirs = config(tmp_path, plugin_dir, PERFDATA_WRITER + body)
    daemon = subprocess.Popen([icinga2, "daemon", "-c", str(main), *defines], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    results = {}
    try:
        deadline = time.monotonic() + timeout
        while set(services) - set(results) and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.5)
            # Only rotated files: the current one may end in a half-written line.
            for path in sorted((dirs["SpoolDir"] / "perfdata").glob("service-perfdata.*")):
                # A record is split at SERVICE:: only: -v output spans lines.
                for record in path.read_text().removeprefix("SERVICE::").split("\nSERVICE::"):
                    fields = dict(item.split("::", 1) for item in ("SERVICE::" + record).split("\t"))
                    results.setdefault(fields["SERVICE"], fields)
    finally:
        stop(daemon)
    missing = set(services) - set(results)
    assert not missing, f"Icinga ran no check for {missing}: " + daemon.stdout.read().decode()[-3000:]
    return results


def stop(process):
    """SIGTERM to the process group, SIGKILL after a grace (icinga2 may hang)."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def healthy_cluster():
    return Cluster("es8", {"backups": [Snap("nightly", "SUCCESS", now_ms() - 2 * HOUR_MS)]})


# -- 1. IPv6 -------------------------------------------------------------------

def test_ipv6_only_host_is_checked_over_ipv6(tmp_path, argv_plugin_dir, serve):
    """Without es_snapshot_url the command builds the URL from the host's
    address; an IPv6 one must be bracketed, or the plugin refuses it."""
    plugin_dir, log = argv_plugin_dir
    v6 = serve(healthy_cluster(), host="::1")
    v4 = serve(healthy_cluster())
    port6, port4 = v6.httpd.server_address[1], v4.httpd.server_address[1]
    body = f'''
object Host "v6-only" {{ check_command = "dummy"; address6 = "::1"; check_interval = 1h }}
object Host "dual-stack" {{ check_command = "dummy"; address = "127.0.0.1"; address6 = "::1"
  vars.check_ipv6 = true; check_interval = 1h }}
object Host "v4" {{ check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }}
object Host "by-name" {{ check_command = "dummy"; address = "localhost"; check_interval = 1h }}
'''
    ports = {"v6-only": port6, "dual-stack": port6, "v4": port4, "by-name": port4}
    for host, port in ports.items():
        body += f'''object Service "{host}-snapshots" {{ host_name = "{host}"; check_command = "es_snapshot_logged"
  check_interval = 1s; vars.es_snapshot_port = {port} }}
'''
    results = run_icinga(tmp_path, plugin_dir, body, [f"{h}-snapshots" for h in ports])
    argv = command_lines(log)
    urls = {host: argv[f"{host}-snapshots"][argv[f"{host}-snapshots"].index("--url") + 1] for host in ports}
    assert urls == {"v6-only": "http://[::1]:9200", "dual-stack": "http://[::1]:9200",
                    "v4": "http://127.0.0.1:9200", "by-name": "http://localhost:9200"}
    for host in ports:
        assert results[f"{host}-snapshots"]["STATE"] == "OK", results[f"{host}-snapshots"]
        assert results[f"{host}-snapshots"]["PERFDATA"].startswith("age=")
    # The IPv6 cluster really was the one asked, over IPv6.
    assert len(v6.cluster.log) >= 2 * 3 and v4.cluster.log


# -- 3. verbosity ----------------------------------------------------------------

def test_icinga_verbosity_number_passes_that_many_v(tmp_path, argv_plugin_dir, serve):
    plugin_dir, log = argv_plugin_dir
    server = serve(healthy_cluster())
    levels = {"unset": None, "zero": "0", "one": "1", "two": "2", "three": "3", "nine": "9",
              "true": "true", "false": "false", "text-two": '"2"'}
    body = 'object Host "es" { check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }\n'
    for name, value in levels.items():
        body += f'''object Service "{name}" {{ host_name = "es"; check_command = "es_snapshot_logged"
  check_interval = 1s; vars.es_snapshot_url = "{server.url}"
  {f"vars.es_snapshot_verbose = {value}" if value else ""} }}
'''
    results = run_icinga(tmp_path, plugin_dir, body, list(levels))
    counts = {name: args.count("-v") for name, args in command_lines(log).items()}
    assert counts == {"unset": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "nine": 3,
                      "true": 1, "false": 0, "text-two": 2}
    assert not any("--verbose" in args for args in command_lines(log).values())
    assert {r["STATE"] for r in results.values()} == {"OK"}
