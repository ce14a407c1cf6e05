"""Shared helpers: a fixed clock, the real script as a subprocess, a fake cluster."""
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import nagiosplugin
import pytest

from tests.fake_es import Cluster, Server

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "check_es_snapshot.py"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# 2024-05-01T12:00:00Z: the injected "now" of every in-process test.
NOW_MS = 1714564800000
HOUR_MS = 3600 * 1000


@pytest.fixture(autouse=True)
def fresh_runtime():
    """nagiosplugin's Runtime is a process-wide singleton, and cli.main adds
    log filters and handlers to process-wide loggers: start each test clean."""
    loggers = [logging.getLogger(name) for name in ("", "nagiosplugin", "nagiosplugin.es_snapshot")]
    saved = [(list(log.filters), list(log.handlers)) for log in loggers]
    nagiosplugin.Runtime.instance = None
    yield
    nagiosplugin.Runtime.instance = None
    for log, (filters, handlers) in zip(loggers, saved):
        log.filters[:], log.handlers[:] = filters, handlers


def run_check(*args, env=None, timeout=30):
    """Run the real entry script; returns (exit code, stdout, stderr)."""
    base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([*_entry(), *args], capture_output=True, text=True,
                            env={**base_env, **(env or {})}, timeout=timeout,
                            stdin=subprocess.DEVNULL, cwd=str(ROOT))
    return result.returncode, result.stdout, result.stderr


# Test-only: seconds to sleep before the script starts, to prove that no
# assertion depends on wall-clock time passing between building a scenario
# and the check reading it (CHECK_TEST_STARTUP_DELAY=2 python -m pytest).
STARTUP_DELAY = float(os.environ.get("CHECK_TEST_STARTUP_DELAY") or 0)


def _entry():
    if not STARTUP_DELAY:
        return [sys.executable, str(SCRIPT)]
    delayed = ("import runpy, sys, time; time.sleep(float(sys.argv.pop(1))); "
               "sys.argv[0] = sys.argv[1]; del sys.argv[1]; "
               "runpy.run_path(sys.argv[0], run_name='__main__')")
    return [sys.executable, "-c", delayed, str(STARTUP_DELAY), str(SCRIPT)]


def t_option(seconds):
    """-t for a subprocess test about the deadline: -t counts from the start
    of the process, so the start-up delay's sleep spends it as a slow
    interpreter start would; it is added, and the line says the sum."""
    return seconds + math.ceil(STARTUP_DELAY)


def first_line(stdout):
    """The status line without its perfdata."""
    return stdout.splitlines()[0].split(" | ")[0] if stdout else ""


@pytest.fixture(scope="session")
def idle_servers():
    """Plain servers (HTTP on 127.0.0.1) outlive the test that started them
    and serve the next test's cluster, as check_patroni's session-wide API
    server does: stopping one waits for its serving loop (about 40 ms)."""
    idle = []
    yield idle
    for server in idle:
        server.__exit__(None, None, None)


@pytest.fixture
def serve(idle_servers):
    """serve(cluster) -> running Server; after the test, plain ones go back
    to the session's idle servers and the others (TLS, IPv6, a fixed port)
    are stopped."""
    servers, plain = [], []

    def start(cluster=None, **kwargs):
        cluster = cluster if cluster is not None else Cluster()
        if kwargs:
            server = Server(cluster, **kwargs).__enter__()
        else:
            server = idle_servers.pop().serving(cluster) if idle_servers else Server(cluster).__enter__()
            plain.append(server)
        servers.append(server)
        return server

    yield start
    # Read-only, over the whole end-to-end suite: the plugin only ever GETs.
    methods = {entry["method"] for server in servers for entry in server.cluster.log}
    for server in servers:
        if server in plain:
            idle_servers.append(server.serving(Cluster()))
        else:
            server.__exit__(None, None, None)
    assert methods <= {"GET", "HEAD"}, f"the plugin sent {methods}"


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """One set of test certificates for the session (tests/pki.py)."""
    from tests.pki import make_pki
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def inproc():
    """inproc(cluster) -> a URL for it; inproc.run(*args) -> (code, stdout, stderr)
    of the check run in-process at the fixed clock NOW_MS (tests/incheck.py)."""
    from tests.incheck import InProcess  # it imports this module
    return InProcess()


def now_ms():
    return int(time.time() * 1000)


def runner(server):
    """How to run the check against ``server``: in-process for one from the
    ``inproc`` fixture, the real script for a fake_es.Server."""
    return getattr(server, "run", run_check)


def run_with_fault(serve, cluster, pattern, override, *args):
    """Serve ``cluster`` (``serve`` or ``inproc``) answering ``override`` for
    paths matching ``pattern``, run the check; returns (exit code, first line,
    host:port of the server)."""
    cluster.overrides.append((pattern, override))
    server = serve(cluster)
    code, out, err = runner(server)("--url", server.url, *args)
    assert err == ""
    return code, first_line(out), server.url.split("//", 1)[1]


# -- tiers left out of the plain run, each run by .ci/run on its own -------------
# engine: real Elasticsearch and OpenSearch nodes (tests/engine/: Maven, Java,
# about 13 minutes).  system: what installs into this machine or runs a
# service stack (the Debian package, dpkg -i as root; Icinga Director on its
# own PostgreSQL; carbon and graphite-web; cron mailing through exim, up to
# a minute waiting for cron's next minute): about 25 s plus that, and nothing a
# developer's plain run should do to their machine.
TIERS = {  # name: (what the marker means, what the header says when left out)
    "engine": ("runs real Elasticsearch/OpenSearch nodes (Maven, Java)",
               "engine tier (real Elasticsearch/OpenSearch)"),
    "system": ("installs the Debian package or runs Director/PostgreSQL, carbon/graphite-web or cron/exim",
               "system tier (Debian package, Director, graphite, cron)"),
}


def pytest_configure(config):
    for name, (what, _) in TIERS.items():
        config.addinivalue_line("markers", f"{name}: {what}; python -m pytest -m {name}")


def _tiers_asked(config):
    return {name for name in TIERS if name in (config.option.markexpr or "")}


def pytest_report_header(config):
    asked = _tiers_asked(config)
    return [f"{header}: deselected; run it with: python -m pytest -m {name}"
            for name, (_, header) in TIERS.items() if name not in asked] or None


def pytest_collection_modifyitems(config, items):
    left_out = set(TIERS) - _tiers_asked(config)
    kept, deselected = [], []
    for item in items:
        (deselected if any(item.get_closest_marker(name) for name in left_out) else kept).append(item)
    if deselected:
        items[:] = kept
        config.hook.pytest_deselected(items=deselected)
