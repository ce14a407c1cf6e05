"""Where Icinga and Nagios admins meet the plugin (issue 12), each proven with
the real Debian program that .ci/run installs: Icinga 2 on IPv6-only hosts and
with counted verbosity, Icinga Director, the graphite chain, the .deb.

Select them with -k ipv6, -k verbos, -k director, -k graphite, -k debian.
The Debian package (installed into this machine), Director (on a PostgreSQL
of its own) and graphite (carbon, graphite-web) form the system tier, left
out of the plain run: python -m pytest -m system (tests/conftest.py: TIERS)."""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from plugin import __version__
from tests.conftest import ROOT, now_ms
from tests.fake_es import HOUR_MS, Cluster, Server, Snap
from tests.test_integrations import ICINGA, generate, icinga_config, nagios_objects, need, start_logged, tail


def logging_plugin_dir(base):
    """A plugin directory under ``base`` whose check_es_snapshot records the
    command line Icinga built (one shell-quoted line per run, headed by
    CHECK_SERVICE), then runs the real plugin with it: (directory, log)."""
    directory = base / "plugins"
    directory.mkdir()
    log = base / "argv.log"
    wrapper = directory / "check_es_snapshot"
    wrapper.write_text(f"""#!/bin/sh
{{ printf '%s' "$CHECK_SERVICE"; for a in "$@"; do printf ' %s' "'$a'"; done; echo; }} >> "{log}"
exec "{sys.executable}" "{ROOT / 'check_es_snapshot.py'}" "$@"
""")
    wrapper.chmod(0o755)
    return directory, log


@pytest.fixture
def argv_plugin_dir(tmp_path):
    return logging_plugin_dir(tmp_path)


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
    log = tmp_path / "icinga2.out"
    daemon = start_logged([icinga2, "daemon", "-c", str(main), *defines], log)
    results = {}
    try:
        deadline = time.monotonic() + timeout
        while set(services) - set(results) and time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(0.1)
            # Only rotated files: the current one may end in a half-written line.
            for path in sorted((dirs["SpoolDir"] / "perfdata").glob("service-perfdata.*")):
                # A record is split at SERVICE:: only: -v output spans lines.
                text = path.read_text().strip()
                for record in text.removeprefix("SERVICE::").split("\nSERVICE::") if text else ():
                    fields = dict(item.split("::", 1) for item in ("SERVICE::" + record).split("\t"))
                    results.setdefault(fields["SERVICE"], fields)
    finally:
        stop(daemon)
    missing = set(services) - set(results)
    assert not missing, f"Icinga ran no check for {missing}: " + tail(log)
    return results


def stop(process):
    """SIGTERM to the process group, SIGKILL after a second: icinga2 sometimes
    hangs on SIGTERM, and nothing these tests read comes after it."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()



def healthy_cluster():
    return Cluster("es8", {"backups": [Snap("nightly", "SUCCESS", now_ms() - 2 * HOUR_MS)]})


# -- 1. IPv6 and 3. verbosity: one Icinga 2 daemon runs the services of both ---

IPV6_HOSTS = '''
object Host "v6-only" { check_command = "dummy"; address6 = "::1"; check_interval = 1h }
object Host "dual-stack" { check_command = "dummy"; address = "127.0.0.1"; address6 = "::1"
  vars.check_ipv6 = true; check_interval = 1h }
object Host "v4" { check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }
object Host "by-name" { check_command = "dummy"; address = "localhost"; check_interval = 1h }
'''
VERBOSITY_LEVELS = {"unset": None, "zero": "0", "one": "1", "two": "2", "three": "3", "nine": "9",
                    "true": "true", "false": "false", "text-two": '"2"'}


@pytest.fixture(scope="module")
def icinga_ran(tmp_path_factory):
    """One daemon (each costs about 2.5 s) for the IPv6 hosts, whose URL the
    command builds from the address, and for a service per verbosity value.
    Yields (results, command lines, IPv6 cluster, IPv4 cluster)."""
    base = tmp_path_factory.mktemp("icinga")
    plugin_dir, log = logging_plugin_dir(base)
    with Server(healthy_cluster(), host="::1") as v6, Server(healthy_cluster()) as v4:
        port6, port4 = v6.httpd.server_address[1], v4.httpd.server_address[1]
        ports = {"v6-only": port6, "dual-stack": port6, "v4": port4, "by-name": port4}
        body = IPV6_HOSTS
        for host, port in ports.items():
            body += f'''object Service "{host}-snapshots" {{ host_name = "{host}"; check_command = "es_snapshot_logged"
  check_interval = 1s; vars.es_snapshot_port = {port} }}
'''
        body += 'object Host "es" { check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }\n'
        for name, value in VERBOSITY_LEVELS.items():
            body += f'''object Service "{name}" {{ host_name = "es"; check_command = "es_snapshot_logged"
  check_interval = 1s; vars.es_snapshot_url = "{v4.url}"
  {f"vars.es_snapshot_verbose = {value}" if value else ""} }}
'''
        results = run_icinga(base, plugin_dir, body, [f"{h}-snapshots" for h in ports] + list(VERBOSITY_LEVELS))
        yield results, command_lines(log), v6.cluster, v4.cluster


def test_ipv6_only_host_is_checked_over_ipv6(icinga_ran):
    """Without es_snapshot_url the command builds the URL from the host's
    address; an IPv6 one must be bracketed, or the plugin refuses it."""
    results, argv, v6, v4 = icinga_ran
    hosts = ("v6-only", "dual-stack", "v4", "by-name")
    urls = {host: argv[f"{host}-snapshots"][argv[f"{host}-snapshots"].index("--url") + 1] for host in hosts}
    assert urls == {"v6-only": "http://[::1]:9200", "dual-stack": "http://[::1]:9200",
                    "v4": "http://127.0.0.1:9200", "by-name": "http://localhost:9200"}
    for host in hosts:
        assert results[f"{host}-snapshots"]["STATE"] == "OK", results[f"{host}-snapshots"]
        assert results[f"{host}-snapshots"]["PERFDATA"].startswith("age=")
    # The IPv6 cluster really was the one asked, over IPv6.
    assert len(v6.log) >= 2 * 3 and v4.log


def test_icinga_verbosity_number_passes_that_many_v(icinga_ran):
    results, argv, _, _ = icinga_ran
    counts = {name: argv[name].count("-v") for name in VERBOSITY_LEVELS}
    assert counts == {"unset": 0, "zero": 0, "one": 1, "two": 2, "three": 3, "nine": 3,
                      "true": 1, "false": 0, "text-two": 2}
    assert not any("--verbose" in argv[name] for name in VERBOSITY_LEVELS)
    assert {results[name]["STATE"] for name in VERBOSITY_LEVELS} == {"OK"}


# -- 5. the Debian package ---------------------------------------------------------

DEB_NAME = "check-es-snapshot"
INSTALLED_PLUGIN = Path("/usr/lib/nagios/plugins/check_es_snapshot")
# Debian's own tools and python3, not a virtualenv's or pyenv's first on PATH.
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def test_debian_changelog_version_is_the_plugin_version():
    """--version reads plugin/__init__.py; the package must not say otherwise."""
    head = (ROOT / "debian" / "changelog").read_text().splitlines()[0]
    match = re.fullmatch(r"check-es-snapshot \(([^)]+)\) \S+; urgency=\w+", head)
    assert match, head
    upstream = match.group(1).split(":")[-1].rsplit("-", 1)[0]  # epoch and revision off
    assert upstream == __version__, f"debian/changelog says {match.group(1)}, --version {__version__}"


@pytest.fixture(scope="module")
def debian_package(tmp_path_factory):
    """Build the .deb from a copy of the checkout (dpkg-buildpackage writes
    into the parent directory and the tree), install it into this machine,
    purge it afterwards unless it was installed before."""
    need("dpkg-buildpackage")
    work = tmp_path_factory.mktemp("deb")
    source = work / "check_es_snapshot"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis"))
    env = {**os.environ, "PATH": DEBIAN_PATH}
    build = subprocess.run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=source, env=env,
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    deb = work / f"{DEB_NAME}_{__version__}_all.deb"
    assert deb.exists(), sorted(p.name for p in work.iterdir())
    before = subprocess.run(["dpkg-query", "-W", "-f", "${Status}", DEB_NAME], capture_output=True, text=True)
    was_installed = before.stdout.endswith(" installed")
    install = subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=300", "install", "-y", "-q",
                              "--no-install-recommends", str(deb)], env={**env, "DEBIAN_FRONTEND": "noninteractive"},
                             capture_output=True, text=True, timeout=600)
    try:
        assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
        yield deb
    finally:
        if not was_installed:
            subprocess.run(["dpkg", "--purge", DEB_NAME], env=env, capture_output=True, timeout=300)


@pytest.mark.system
def test_debian_package_contents_and_dependencies(debian_package):
    fields = subprocess.run(["dpkg-deb", "-f", str(debian_package), "Package", "Version", "Architecture",
                             "Depends"], capture_output=True, text=True, check=True).stdout
    meta = dict(line.split(": ", 1) for line in fields.splitlines())
    assert (meta["Package"], meta["Version"], meta["Architecture"]) == (DEB_NAME, __version__, "all")
    depends = {d.split()[0] for d in meta["Depends"].split(", ")}
    assert {"python3-nagiosplugin", "python3-requests"} <= depends
    listed = subprocess.run(["dpkg", "-L", DEB_NAME], capture_output=True, text=True, check=True).stdout
    assert str(INSTALLED_PLUGIN) in listed.splitlines()
    assert "/usr/share/icinga2/include/plugins-contrib.d/es_snapshot.conf" in listed.splitlines()
    assert "/usr/lib/python3/dist-packages/check_es_snapshot/cli.py" in listed.splitlines()
    assert INSTALLED_PLUGIN.read_text().startswith("#!/usr/bin/python3\n")


@pytest.mark.system
def test_debian_package_compiles_its_bytecode(debian_package):
    """dh_python3 leaves the .pyc out of the .deb and has postinst compile
    them (py3compile): every module of the installed package has its own."""
    control = subprocess.run(["dpkg-deb", "-I", str(debian_package), "postinst"],
                             capture_output=True, text=True, check=True).stdout
    assert "py3compile -p check-es-snapshot" in control
    package = Path("/usr/lib/python3/dist-packages/check_es_snapshot")
    tag = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    sources = sorted(p.stem for p in package.glob("*.py"))
    compiled = sorted(p.name.split(".")[0] for p in (package / "__pycache__").glob(f"*.{tag}.pyc"))
    assert sources and compiled == sources


@pytest.mark.system
def test_debian_installed_plugin_runs_from_its_own_directory(debian_package, serve):
    """Run as Icinga runs it (cwd and sys.path[0] the plugin directory, any
    PATH): the installed package answers, not a checkout."""
    server = serve(healthy_cluster())
    env = {"PATH": os.environ.get("PATH", DEBIAN_PATH)}  # pyenv's python3 first here: must not matter
    version = subprocess.run([str(INSTALLED_PLUGIN), "--version"], capture_output=True, text=True,
                             env=env, cwd=INSTALLED_PLUGIN.parent, timeout=30)
    assert version.stdout == f"check_es_snapshot {__version__}\n"
    run = subprocess.run([str(INSTALLED_PLUGIN), "--url", server.url], capture_output=True, text=True,
                         env=env, cwd=INSTALLED_PLUGIN.parent, timeout=30)
    assert (run.returncode, run.stderr) == (0, ""), run.stdout
    assert run.stdout.startswith("ES_SNAPSHOT OK - nightly SUCCESS")


def stock_icinga_config(tmp_path, plugin_dir, body):
    """Debian's own constants.conf and only stock includes: the CheckCommand
    must come from the package, found by include <plugins-contrib>."""
    main, defines, dirs = icinga_config(tmp_path, plugin_dir, body)
    main.write_text(f'''
const NodeName = "debian-test"
include "/etc/icinga2/constants.conf"
include <itl>
include <plugins>
include <plugins-contrib>
{body}
''')
    return main, defines, dirs


@pytest.mark.system
def test_debian_package_runs_in_stock_icinga(tmp_path, debian_package, serve):
    server = serve(healthy_cluster())
    body = f'''
object Host "es" {{ check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }}
object Service "snapshots" {{ host_name = "es"; check_command = "es_snapshot"; check_interval = 1s
  vars.es_snapshot_url = "{server.url}" }}
'''
    results = run_icinga(tmp_path, None, body, ["snapshots"], config=stock_icinga_config)
    assert results["snapshots"]["STATE"] == "OK", results
    assert results["snapshots"]["OUTPUT"].startswith("ES_SNAPSHOT OK - nightly SUCCESS")
    assert results["snapshots"]["PERFDATA"].startswith("age=")


# What icinga/nagios.cfg's example services need around them.
NAGIOS_BASICS = {
    "timeperiod": {"timeperiod_name": "always", "alias": "Always", **{
        day: "00:00-24:00" for day in ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday",
                                        "saturday")}},
    "command": {"command_name": "notify-nobody", "command_line": "/bin/true"},
    "contact": {"contact_name": "oncall", "host_notifications_enabled": "0", "service_notifications_enabled": "0",
                "host_notification_period": "always", "service_notification_period": "always",
                "host_notification_options": "n", "service_notification_options": "n",
                "host_notification_commands": "notify-nobody", "service_notification_commands": "notify-nobody"},
    "host": {"name": "linux-server", "register": "0", "max_check_attempts": "3",
             "check_period": "always", "contacts": "oncall"},
    "service": {"name": "generic-service", "register": "0", "max_check_attempts": "3", "check_interval": "5",
                "retry_interval": "1", "check_period": "always", "notification_period": "always",
                "contacts": "oncall"},
}


@pytest.mark.system
def test_debian_nagios_definitions_point_at_the_installed_plugin(tmp_path, debian_package, serve):
    nagios = need("nagios4")
    examples = Path("/usr/share/doc/check-es-snapshot/examples/nagios.cfg")
    stock_resources = Path("/etc/nagios4/resource.cfg")  # $USER1$ = /usr/lib/nagios/plugins
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    (tmp_path / "resource.cfg").write_text(f"$USER3$={password}\n")
    (tmp_path / "objects.cfg").write_text(nagios_objects(NAGIOS_BASICS))
    main = tmp_path / "nagios.cfg"
    main.write_text(f"""log_file={tmp_path}/nagios.log
cfg_file={tmp_path}/objects.cfg
cfg_file={examples}
resource_file={stock_resources}
resource_file={tmp_path}/resource.cfg
status_file={tmp_path}/status.dat
temp_file={tmp_path}/nagios.tmp
lock_file={tmp_path}/nagios.lock
temp_path={tmp_path}
check_result_path={tmp_path}
command_file={tmp_path}/nagios.cmd
nagios_user=root
nagios_group=root
""")
    result = subprocess.run([nagios, "-v", str(main)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Total Errors:   0" in result.stdout, result.stdout + result.stderr
    # And the command line those definitions give, macros expanded as Nagios
    # would from the stock resource.cfg, runs the installed plugin.
    users = dict(line.split("=", 1) for line in stock_resources.read_text().splitlines()
                 if line.startswith("$USER"))
    command_line = re.search(r"command_line\s+(.+)", examples.read_text()).group(1)
    server = serve(Cluster("es8", healthy_cluster().repositories, auth={"user": "monitor", "password": "s3cret"}))
    for macro, value in {**users, "$USER3$": str(password), "$ARG1$": server.url, "$ARG2$": "-w 26h -c 50h"}.items():
        command_line = command_line.replace(macro, value)
    assert command_line.startswith(f"{INSTALLED_PLUGIN} ")
    run = subprocess.run(shlex.split(command_line), capture_output=True, text=True, timeout=30,
                         env={"PATH": DEBIAN_PATH})
    assert (run.returncode, run.stderr) == (0, ""), run.stdout
    assert run.stdout.startswith("ES_SNAPSHOT OK - nightly SUCCESS")


# -- 2. Icinga Director ----------------------------------------------------------

def _postgres_bin():
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is missing: .ci/run installs it")
        pytest.skip("PostgreSQL is not installed here (.ci/run installs it)")
    return found[-1].parent


@pytest.fixture
def director(tmp_path):
    """Icinga Director (Debian's icingaweb2-module-director and icingacli) on
    its own PostgreSQL, started here on a unix socket in a temporary
    directory and stopped (and removed) afterwards.  Yields run(*args,
    stdin=None) for icingacli and sql(query) for psql."""
    icingacli = need("icingacli")
    pg = _postgres_bin()
    # PostgreSQL refuses to run as root, and pytest's tmp_path is root-only.
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="director-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_postgres:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    subprocess.run([*as_postgres, str(pg / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8"], check=True, capture_output=True, timeout=120)
    subprocess.run([*as_postgres, str(pg / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w",
                    "-o", f"-c listen_addresses='' -k {sock}", "start"], check=True, capture_output=True,
                   timeout=120)
    try:
        def sql(query, db="director"):
            result = subprocess.run([str(pg / "psql"), "-h", str(sock), "-U", "postgres", "-d", db, "-Atqc",
                                     query], capture_output=True, text=True, timeout=60)
            assert result.returncode == 0, result.stderr
            return result.stdout.strip()

        # As Director's 02-Installation.md says for PostgreSQL.
        sql("CREATE DATABASE director WITH ENCODING 'UTF8'", db="postgres")
        sql("CREATE EXTENSION pgcrypto")
        web = tmp_path / "icingaweb2"
        (web / "modules" / "director").mkdir(parents=True)
        (web / "resources.ini").write_text(f'[director_db]\ntype = "db"\ndb = "pgsql"\nhost = "{sock}"\n'
                                           'dbname = "director"\nusername = "postgres"\npassword = ""\n'
                                           'charset = "utf8"\n')
        (web / "modules" / "director" / "config.ini").write_text('[db]\nresource = "director_db"\n')
        env = {**os.environ, "ICINGAWEB_CONFIGDIR": str(web)}

        def run(*args, stdin=None, check=True):
            result = subprocess.run([icingacli, *args], input=stdin, capture_output=True, text=True,
                                    env=env, timeout=120)
            if check:
                assert result.returncode == 0, f"icingacli {' '.join(args)}: {result.stdout}{result.stderr}"
            return result

        for module in ("incubator", "reactbundle", "director"):  # Director's Depends (module.info)
            run("module", "enable", module)
        yield run, sql
    finally:
        subprocess.run([*as_postgres, str(pg / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(base, ignore_errors=True)


def director_config_files(sql, checksum):
    """The files of a config Director rendered, as it stores them."""
    rows = sql("SELECT json_object_agg(f.file_path, g.content) FROM director_generated_config_file f"
               " JOIN director_generated_file g ON g.checksum = f.file_checksum"
               f" WHERE f.config_checksum = decode('{checksum}', 'hex')")
    return json.loads(rows)


@pytest.mark.system
def test_director_restores_basket_and_renders_a_valid_config(tmp_path, director, argv_plugin_dir, serve):
    run, sql = director
    basket = json.loads((ICINGA / "director-basket.json").read_text())
    expected = basket["Command"]["es_snapshot"]

    pending = run("director", "migration", "pending", "--verbose", check=False)
    assert pending.returncode == 0, pending.stdout + pending.stderr  # a fresh database: all pending
    run("director", "migration", "run", "--verbose")
    after = run("director", "migration", "pending", "--verbose", check=False)
    assert (after.returncode, after.stdout.strip()) == (1, "There are no pending migrations")

    restored = run("director", "basket", "restore", stdin=json.dumps(basket))
    assert restored.stdout.strip() == "Objects from Basket Snapshot have been restored"
    fields = sql("SELECT count(*) FROM director_datafield")
    run("director", "basket", "restore", stdin=json.dumps(basket))  # again: nothing doubles
    assert sql("SELECT count(*) FROM director_datafield") == fields == str(len(basket["Datafield"]))

    shown = json.loads(run("director", "command", "show", "es_snapshot", "--json").stdout)
    assert shown["arguments"] == expected["arguments"]
    assert (shown["command"], shown["vars"], shown["timeout"]) == (
        expected["command"], expected["vars"], expected["timeout"])
    field_ids = ",".join(str(f["datafield_id"]) for f in shown["fields"])
    varnames = sql(f"SELECT string_agg(varname || '=' || datatype, ' ' ORDER BY varname) FROM director_datafield"
                   f" WHERE id IN ({field_ids})").split()
    assert varnames == sorted(f'{f["varname"]}={f["datatype"]}' for f in basket["Datafield"].values())

    # Hosts and services as a Director user would add them; "dummy" is the
    # ITL's, known to Director as an external command (as a kickstart would).
    server = serve(healthy_cluster(), host="::1")
    port = server.httpd.server_address[1]
    run("director", "command", "create", "dummy", "--json", '{"object_type": "external_object"}')
    for host, props in {"es-v6": {"address6": "::1"}, "es-v4": {"address": "127.0.0.1"}}.items():
        run("director", "host", "create", host, "--json", json.dumps(
            {"object_type": "object", "check_command": "dummy", "check_interval": 3600, **props}))
    run("director", "service", "create", "snapshots", "--json", json.dumps({
        "object_type": "object", "host": "es-v6", "check_command": "es_snapshot", "check_interval": 1,
        "vars": {"es_snapshot_port": str(port), "es_snapshot_verbose": 2}}))
    run("director", "service", "create", "snapshots-v4", "--json", json.dumps({
        "object_type": "object", "host": "es-v4", "check_command": "es_snapshot", "check_interval": 1,
        "vars": {"es_snapshot_url": "http://$address$:9", "es_snapshot_port": str(port),
                 "es_snapshot_hostname": "::1"}}))
    rendered = run("director", "config", "render").stdout
    checksum = re.search(r"New config with checksum ([0-9a-f]{40}) has been generated", rendered).group(1)
    files = director_config_files(sql, checksum)
    assert 'command = [ PluginContribDir + "/check_es_snapshot" ]' in files["zones.d/director-global/commands.conf"]
    assert "ipv4-or-ipv6" not in files["zones.d/director-global/commands.conf"]  # not needed
    zones = tmp_path / "director"
    for path, content in files.items():
        (zones / path).parent.mkdir(parents=True, exist_ok=True)
        (zones / path).write_text(content)

    plugin_dir, log = argv_plugin_dir

    def director_config(tmp_path, plugin_dir, body, zoned=True):
        """The rendered files as an Icinga 2 master loads a deployed stage
        (include_zones), or, to run checks without an API listener (which
        alone makes a zone local), the same files without zones."""
        main, defines, dirs = icinga_config(tmp_path, plugin_dir, body)
        zones_d = zones / "zones.d"
        include = (f'include_zones "director", "{zones_d}"' if zoned else
                   f'include_recursive "{zones_d / "director-global"}"\ninclude_recursive "{zones_d / "master"}"')
        main.write_text(f'''
const PluginDir = "{plugin_dir}"
const PluginContribDir = "{plugin_dir}"
const NodeName = "icinga-master"
object Endpoint NodeName {{ }}
object Zone "master" {{ endpoints = [ NodeName ] }}
object Zone "director-global" {{ global = true }}
include <itl>
include <plugins>
{include}
{body}
''')
        return main, defines, dirs

    main, defines, _ = director_config(tmp_path, plugin_dir, "")
    validated = subprocess.run([need("icinga2"), "daemon", "-C", "-c", str(main), *defines],
                               capture_output=True, text=True, timeout=120)
    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert "Instantiated 2 Services" in validated.stdout and "warning/" not in validated.stdout

    # And run: an IPv6-only host, the URL built without $check_address$.
    results = run_icinga(tmp_path, plugin_dir, "", ["snapshots", "snapshots-v4"],
                         config=lambda *a: director_config(*a, zoned=False))
    runs = {tuple(shlex.split(line)) for line in log.read_text().splitlines()}
    urls = {(args[args.index("--url") + 1], args.count("-v")) for args in runs}
    assert urls == {("http://[::1]:9200", 2), ("http://127.0.0.1:9", 0)}  # the second: --hostname ::1
    assert {r["STATE"] for r in results.values()} == {"OK"}, results


# -- 4. graphs: GraphiteWriter -> carbon -> graphite-web -> the graphite module ---

# Two-second points: four are a line in the graph, not a dot, and take about
# 8 s of a running Icinga (ten took 20 s and drew nothing more).
POINTS = 4
GRAPHITE_TEMPLATE = ICINGA / "graphite" / "templates" / "check_es_snapshot.ini"
DEBIAN_PYTHON = "/usr/bin/python3"  # graphite-web and carbon are Debian's python3 packages


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, log, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{what} exited: " + tail(log, 2000)
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{what} did not listen on {port}")


@pytest.fixture
def graphite(tmp_path):
    """carbon-cache (graphite-carbon) and graphite-web's WSGI application
    (graphite-web, under wsgiref) on loopback, storing in tmp_path; both
    stopped afterwards.  Yields (carbon line port, graphite-web base URL)."""
    carbon = need("carbon-cache")
    if not Path("/usr/lib/python3/dist-packages/graphite/wsgi.py").exists():
        if os.environ.get("CI"):
            pytest.fail("graphite-web is missing: .ci/run installs it")
        pytest.skip("graphite-web is not installed here (.ci/run installs it)")
    need("php")
    root = tmp_path / "graphite"
    conf, storage, whisper = root / "conf", root / "storage", root / "storage" / "whisper"
    for path in (conf, whisper, root / "log" / "webapp", root / "run", root / "web"):
        path.mkdir(parents=True)
    line_port = free_port()
    (conf / "carbon.conf").write_text(f"""[cache]
STORAGE_DIR = {storage}/
LOCAL_DATA_DIR = {whisper}/
WHITELISTS_DIR = {storage}/lists/
CONF_DIR = {conf}/
LOG_DIR = {root}/log/
PID_DIR = {root}/run/
ENABLE_LOGROTATION = False
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = 1000
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = {line_port}
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = {free_port()}
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = {free_port()}
CACHE_WRITE_STRATEGY = sorted
""")
    # Two-second points for an hour: with checks every second no point stays
    # empty (a gap would cut the area in the graph).
    (conf / "storage-schemas.conf").write_text("[all]\npattern = .*\nretentions = 2s:1h\n")
    (conf / "storage-aggregation.conf").write_text("[all]\npattern = .*\nxFilesFactor = 0\n"
                                                   "aggregationMethod = average\n")
    (root / "web" / "graphite_test_settings.py").write_text(f"""
SECRET_KEY = "only-for-this-test"
TIME_ZONE = "UTC"
GRAPHITE_ROOT = "/usr/share/graphite-web"
STATIC_ROOT = "/usr/share/graphite-web/static"
CONF_DIR = "{conf}"
STORAGE_DIR = "{storage}"
WHISPER_DIR = "{whisper}/"
STANDARD_DIRS = ["{whisper}/"]
LOG_DIR = "{root}/log/webapp"
INDEX_FILE = "{storage}/index"
CARBONLINK_HOSTS = []
DATABASES = {{"default": {{"NAME": "{root}/graphite.db", "ENGINE": "django.db.backends.sqlite3"}}}}
""")
    server = ("import sys\nfrom wsgiref.simple_server import WSGIRequestHandler, make_server\n"
              "from graphite.wsgi import application\n"
              "class Quiet(WSGIRequestHandler):\n    def log_message(self, *args): pass\n"
              "httpd = make_server('127.0.0.1', 0, application, handler_class=Quiet)\n"
              "print(httpd.server_port, flush=True)\nhttpd.serve_forever()\n")
    env = {"PATH": DEBIAN_PATH, "PYTHONPATH": str(root / "web"), "DJANGO_SETTINGS_MODULE": "graphite.settings",
           "GRAPHITE_SETTINGS_MODULE": "graphite_test_settings"}
    processes = []
    try:
        carbon_log = root / "carbon.out"
        processes.append(start_logged([carbon, f"--config={conf / 'carbon.conf'}", "--debug", "start"],
                                      carbon_log, env=env, cwd=root))
        wait_for_port(line_port, processes[0], carbon_log, "carbon-cache")
        # stdout carries the port (one line, then nothing); the rest goes to a file.
        web_log = root / "graphite-web.out"
        with open(web_log, "wb") as errors:
            processes.append(subprocess.Popen([DEBIAN_PYTHON, "-c", server], env=env, cwd=root,
                                              stdout=subprocess.PIPE, stderr=errors, start_new_session=True))
        web_port = int(processes[1].stdout.readline() or 0)
        assert web_port, "graphite-web did not start: " + tail(web_log, 2000)
        yield line_port, f"http://127.0.0.1:{web_port}"
    finally:
        for process in processes:
            stop(process)


def render_json(base, target, since="-10min"):
    """graphite-web's render API: {target path: [non-null values]}."""
    query = urllib.parse.urlencode({"target": target, "from": since, "format": "json"})
    with urllib.request.urlopen(f"{base}/render?{query}", timeout=30) as response:
        series = json.load(response)
    return {s["target"]: [v for v, _ in s["datapoints"] if v is not None] for s in series}


def module_charts(tmp_path, web, charts):
    """The graphite module's own code (tests/graphite_charts.php) loads the
    shipped template, finds its metric paths in graphite-web and renders
    the charts into ``charts``: {template name: [chart]}."""
    charts.mkdir()
    drawn = subprocess.run([need("php"), str(ROOT / "tests" / "graphite_charts.php"), str(GRAPHITE_TEMPLATE),
                            web, "es-1", "snapshots", "es_snapshot", str(charts), "30"],
                           capture_output=True, text=True, timeout=120,
                           env={**os.environ, "ICINGAWEB_CONFIGDIR": str(tmp_path / "icingaweb2")})
    assert drawn.returncode == 0, drawn.stdout + drawn.stderr
    return json.loads(drawn.stdout)


GRAPHITE_PREFIX = "icinga2.es-1.services.snapshots.es_snapshot.perfdata"


def icinga_feeds_graphite(tmp_path, plugin_dir, server, line_port, web, labels):
    """Run Icinga 2 (check every second, GraphiteWriter to carbon) until
    graphite-web returns POINTS points of each perfdata label's value (enough
    for a graph that shows lines, not dots): {label: [values]}."""
    body = f'''
object GraphiteWriter "graphite" {{ host = "127.0.0.1"; port = {line_port}; enable_send_thresholds = true }}
object Host "es-1" {{ check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }}
object Service "snapshots" {{ host_name = "es-1"; check_command = "es_snapshot"; check_interval = 1s
  vars.es_snapshot_url = "{server.url}" }}
'''
    main, defines, _ = icinga_config(tmp_path, plugin_dir, PERFDATA_WRITER + body)
    log = tmp_path / "icinga2.out"
    daemon = start_logged([need("icinga2"), "daemon", "-c", str(main), *defines], log)
    paths = {label: f"{GRAPHITE_PREFIX}.{label}.value" for label in labels}
    points = {}
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and daemon.poll() is None:
            time.sleep(1)
            points = {label: render_json(web, path).get(path, []) for label, path in paths.items()}
            if all(len(values) >= POINTS for values in points.values()):
                break
    finally:
        stop(daemon)
    assert all(len(points.get(label, ())) >= POINTS for label in labels), (points, tail(log, 2000))
    return points


@pytest.mark.system
def test_graphite_chain_draws_the_template(tmp_path, argv_plugin_dir, serve, graphite):
    """Icinga 2's GraphiteWriter -> carbon -> graphite-web, then the graphite
    module's own code (php) reads the shipped template, finds exactly its
    metric paths in graphite-web and has them rendered."""
    line_port, web = graphite
    plugin_dir, _ = argv_plugin_dir
    server = serve(Cluster("es8", {"backups": [
        Snap("nightly", "SUCCESS", now_ms() - 5 * HOUR_MS, duration_ms=600_000, size_bytes=3 * 2**30)]}))
    prefix = GRAPHITE_PREFIX
    points = icinga_feeds_graphite(tmp_path, plugin_dir, server, line_port, web, ("age", "duration", "size"))
    assert all(5 * 3600 <= v < 5 * 3600 + 120 for v in points["age"]), points["age"]
    assert set(points["duration"]) == {600.0} and set(points["size"]) == {3.0 * 2**30}
    thresholds = render_json(web, f"{prefix}.age.{{warn,crit}}")
    assert {k.rsplit(".", 1)[1]: set(v) for k, v in thresholds.items()} == {"warn": {93600.0}, "crit": {180000.0}}

    # The module's code (not ours) reads the template and asks for its paths.
    charts = tmp_path / "charts"
    result = module_charts(tmp_path, web, charts)
    metrics = {name: [chart["metrics"] for chart in found] for name, found in result.items()}
    assert metrics["es_snapshot-age"] == [AGGREGATE_AGE]
    assert metrics["es_snapshot-duration"] == [{"duration_value": f"{prefix}.duration.value",
                                                "running_value": f"{prefix}.running.value"}]
    assert metrics["es_snapshot-size"] == [{"size_value": f"{prefix}.size.value"}]
    assert metrics["es_snapshot-failed"] == [{"failed_streak_value": f"{prefix}.failed_streak.value"}]
    # One repository: no per-repository labels, so no per-repository graphs.
    assert all(metrics[f"es_snapshot-repository-{kind}"] == [] for kind in ("age", "duration", "size", "failed"))
    for found in result.values():
        for chart in found:
            png = Path(chart["png"]).read_bytes()
            assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, chart
    shutil.copy(charts / "es_snapshot-age-0.png", tmp_path / "age.png")


AGGREGATE_AGE = {"age_value": f"{GRAPHITE_PREFIX}.age.value", "age_warn": f"{GRAPHITE_PREFIX}.age.warn",
                 "age_crit": f"{GRAPHITE_PREFIX}.age.crit"}


@pytest.mark.system
def test_graphite_template_graphs_each_repository(tmp_path, argv_plugin_dir, serve, graphite):
    """With two repositories the check adds <repo>_age, ... to its perfdata;
    through the same chain (Icinga 2, GraphiteWriter, carbon, graphite-web)
    the module draws one chart per repository, and the aggregate charts keep
    to the aggregate paths."""
    line_port, web = graphite
    plugin_dir, _ = argv_plugin_dir
    server = serve(Cluster("es8", {
        "backups": [Snap("nightly", "SUCCESS", now_ms() - 2 * HOUR_MS, duration_ms=60_000, size_bytes=5_000_000)],
        "aliyun_auto_snapshot": [Snap("auto", "SUCCESS", now_ms() - 600_000, duration_ms=30_000,
                                      size_bytes=2**30)]}))
    prefix = GRAPHITE_PREFIX
    points = icinga_feeds_graphite(tmp_path, plugin_dir, server, line_port, web,
                                   ("age", "backups_age", "aliyun_auto_snapshot_age", "aliyun_auto_snapshot_size"))
    assert all(2 * 3600 <= v < 2 * 3600 + 120 for v in points["backups_age"]), points["backups_age"]
    assert all(600 <= v < 600 + 120 for v in points["aliyun_auto_snapshot_age"]), points["aliyun_auto_snapshot_age"]
    assert set(points["aliyun_auto_snapshot_size"]) == {float(2**30)}
    charts = tmp_path / "charts"
    result = module_charts(tmp_path, web, charts)
    repos = {chart["variables"]["repo"]: chart["metrics"] for chart in result["es_snapshot-repository-age"]}
    assert sorted(repos) == ["aliyun_auto_snapshot", "backups"]
    assert repos["aliyun_auto_snapshot"] == {curve: f"{prefix}.aliyun_auto_snapshot_age.{kind}"
                                             for curve, kind in (("age_value", "value"), ("age_warn", "warn"),
                                                                 ("age_crit", "crit"))}
    for kind in ("duration", "size", "failed"):
        assert sorted(c["variables"]["repo"] for c in result[f"es_snapshot-repository-{kind}"]) == [
            "aliyun_auto_snapshot", "backups"]
    # The aggregate graphs keep to the aggregate paths.
    assert [chart["metrics"] for chart in result["es_snapshot-age"]] == [AGGREGATE_AGE]
    for chart in result["es_snapshot-repository-age"]:
        png = Path(chart["png"]).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5000, chart


# -- 6. option parity ------------------------------------------------------------

def test_option_parity_checkcommand_basket_and_vars_table():
    """What --help offers, Icinga, Director and the README offer too.  Only
    --password is kept out of all three on purpose: a secret in argv is
    visible in ps (the CheckCommand passes ES_PASSWORD in env instead)."""
    from plugin.options import build_parser

    conf = (ICINGA / "es_snapshot.conf").read_text()
    basket = json.loads((ICINGA / "director-basket.json").read_text())
    vars_md = (ICINGA / "vars.md").read_text()
    arguments = basket["Command"]["es_snapshot"]["arguments"]
    field_vars = {field["varname"] for field in basket["Datafield"].values()}
    for action in build_parser()._actions:
        if action.dest in generate.SKIPPED or action.dest == "password":
            continue
        option, var = max(action.option_strings, key=len), f"es_snapshot_{action.dest}"
        assert f'\t\t"{option}" = {{' in conf, f"{option} is not in the CheckCommand"
        assert option in arguments, f"{option} is not in the Director basket"
        assert var in field_vars, f"{var} has no Director data field"
        assert f"| {var} | Optional |" in vars_md, f"{var} is not in the vars table"
    assert "--password" not in arguments and '"--password" = {' not in conf
    assert 'ES_PASSWORD = "$es_snapshot_password$"' in conf
