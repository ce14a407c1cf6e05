"""The one way the suite runs a check in-process.

The real EsClient (requests) talks to the simulated cluster through
``responses``: no sockets, no interpreter start, and the same error policy
as production, because it is production's client.  ``judged`` returns the
check after it ran (for tests that read results); ``run_main``, ``main_with``
and the ``inproc`` fixture (InProcess) go through ``cli.main`` exactly as the
script does and return (exit code, stdout, stderr), with the clock fixed at
NOW_MS so exact lines cannot drift.

What needs a real socket (TLS, slow or reset connections, compression on the
wire, signals, the environment of a real process) stays in the end-to-end
tests that run the script as a subprocess (tests/conftest.py: run_check).
"""
import contextlib
import io
import json
import logging
import re
import signal
from unittest import mock
from urllib.parse import parse_qsl, unquote, urlsplit

import nagiosplugin
import responses

from plugin import cli
from plugin.client import EsClient
from plugin.options import parse_settings
from tests.conftest import HOUR_MS, NOW_MS
from tests.fake_es import Cluster, Snap, _error

BASE = "http://es.example:9200"
READ_METHODS = {"GET", "HEAD"}


class Budget:
    """judged()'s deadline, which never runs out (cli.main arms its own)."""
    network_budget = 9.0

    def remaining(self):
        return 9.0


def _answer(cluster, request):
    """What fake_es.Handler would send for ``request``, as (status, headers, body)."""
    split = urlsplit(request.url)
    auth = request.headers.get("Authorization")
    params = dict(parse_qsl(split.query))

    def record(status, size, loads=0):
        # "path" without the query and "params" parsed, for tests that read
        # which requests a check made; "target" as sent.
        cluster.log.append({"method": request.method, "path": unquote(split.path), "params": params,
                            "target": request.path_url, "status": status, "bytes": size, "raw": size,
                            "loads": loads, "authorization": bool(auth)})

    if request.method not in READ_METHODS:
        record(405, 0)
        body = json.dumps(_error("method_not_allowed", "read-only simulation", 405)).encode()
        return 405, {"Content-Type": "application/json"}, body
    if request.method == "HEAD":
        record(200, 0)
        return 200, {}, b""
    override = cluster.override_for(split.path)
    if override is not None:
        # Delays, trickles and resets happen on a socket: those tests serve one.
        assert not (override.delay_s or override.trickle_s or override.reset), "needs fake_es.Server"
        record(override.status, len(override.body))
        return override.status, {"Content-Type": override.content_type, **override.headers}, override.body
    if not cluster.authorised(auth):
        status, body, ctype = cluster.unauthorised()
        record(status, len(body))
        return status, {"Content-Type": ctype}, body
    status, payload, loads = cluster.handle(split.path, params)
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    if cluster.es_at_least(7, 14) and status < 400:
        headers["X-Elastic-Product"] = "Elasticsearch"
    record(status, len(body), loads)
    return status, headers, body


@contextlib.contextmanager
def routed(cluster, base=BASE):
    """Every request to ``base`` is answered by ``cluster``; the plugin only reads."""
    with routed_all({base: cluster}) as mocked:
        yield mocked


@contextlib.contextmanager
def routed_all(clusters):
    """Like routed, for several clusters at once: {base URL: cluster}."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        for base, cluster in clusters.items():
            pattern = re.compile(re.escape(base.rstrip("/")) + "([/?].*)?$")
            for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"):
                mocked.add_callback(method, pattern, content_type=None,
                                    callback=lambda request, cluster=cluster: _answer(cluster, request))
        yield mocked
    methods = {entry["method"] for cluster in clusters.values() for entry in cluster.log}
    assert methods <= READ_METHODS, f"the plugin sent {methods}"


def judged(cluster, *args, environ=None, now_ms=NOW_MS):
    """Build the check from command-line ``args``, run it against ``cluster`` at
    the URL they name (the default one if none), and return it after the run."""
    settings = parse_settings(list(args), environ={} if environ is None else environ)
    with routed(cluster, settings.base_url):
        check = cli.build_check(settings, EsClient(settings.base_url, authorization=settings.authorization,
                                                   deadline=Budget()), now_ms=now_ms)
        check()
    return check


def run_main(cluster, *args, env=None, now_ms=NOW_MS):
    """``check_es_snapshot.py --url BASE *args`` in-process: (exit code, stdout, stderr)."""
    return main_with({BASE: cluster}, "--url", BASE, *args, env=env, now_ms=now_ms)


def main_with_client(client, *args, env=None):
    """``check_es_snapshot.py *args`` in-process with ``client`` in place of
    the EsClient: (exit code, stdout, stderr)."""
    return main_with(None, *args, env=env, client=client)


def main_over_http(*args, env=None):
    """``check_es_snapshot.py *args`` in-process but over real sockets (a
    fake_es.Server): HTTP, gzip and the streaming decoder without the cost
    of an interpreter start; the clock is the wall clock, as in production."""
    return main_with(None, *args, env=env, now_ms=None)


def main_with(clusters, *args, env=None, now_ms=NOW_MS, client=None):
    """``check_es_snapshot.py *args`` in-process against {base URL: cluster}
    (None: the real network): (exit code, stdout, stderr), as run_check
    returns them for the script.

    ``env`` is the whole environment the script sees, as with run_check.
    ``client`` stands in for the EsClient (a stub that hangs or raises, for
    the run's own deadline and internal errors).
    """
    build = cli.build_check
    plugin_log = logging.getLogger("nagiosplugin.es_snapshot")
    filters, root_handlers = list(plugin_log.filters), list(logging.getLogger().handlers)
    nagiosplugin_handlers = list(logging.getLogger("nagiosplugin").handlers)
    # Each run starts as a fresh process would: nagiosplugin's Runtime is a
    # singleton that keeps the previous run's output and log otherwise, and
    # main() adds a log filter whose 8 KB budget a previous run may have spent.
    nagiosplugin.Runtime.instance = None
    plugin_log.filters[:] = []
    alarm = signal.getsignal(signal.SIGALRM)
    stdout, stderr = io.StringIO(), io.StringIO()
    code = None
    try:
        with (routed_all(clusters) if clusters is not None else contextlib.nullcontext()), \
                mock.patch.object(cli, "build_check", lambda s, c: build(s, c, now_ms=now_ms)), \
                (mock.patch.object(cli, "make_client", lambda *a: client) if client is not None
                 else contextlib.nullcontext()), \
                contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                cli.main(list(args), environ=dict(env or {}))
            except SystemExit as exc:
                code = exc.code
    finally:
        # main() installs a log filter, a root handler and a SIGALRM handler
        # per run; a process that runs it hundreds of times must not pile them up.
        plugin_log.filters[:] = filters
        logging.getLogger().handlers[:] = root_handlers
        logging.getLogger("nagiosplugin").handlers[:] = nagiosplugin_handlers
        nagiosplugin.Runtime.instance = None
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, alarm)
    assert code is not None, "main() must end with an exit code"
    return code, stdout.getvalue(), stderr.getvalue()


class Served:
    """A cluster at a URL of its own, as fake_es.Server gives one (no socket);
    ``run`` stands where run_check stands (tests/conftest.py: runner)."""

    def __init__(self, cluster, url, run):
        self.cluster, self.url, self.run = cluster, url, run


class InProcess:
    """Stands where the ``serve`` fixture and run_check stand, for tests of
    judgement and wording: ``server = inproc(cluster)`` gives a URL,
    ``inproc.run("--url", server.url, ...)`` runs the check in-process."""

    def __init__(self):
        self.clusters = {}

    def __call__(self, cluster=None):
        url = f"http://es{len(self.clusters)}.example:9200"
        self.clusters[url] = cluster if cluster is not None else Cluster()
        return Served(self.clusters[url], url, self.run)

    def run(self, *args, env=None, now_ms=NOW_MS):
        return main_with(self.clusters, *args, env=env, now_ms=now_ms)


# Shorthands of the judgement tests: a snapshot by its age at NOW_MS, a
# check of repositories judged in-process, its perfdata by label.

def snap(name, state="SUCCESS", age_ms=HOUR_MS, **kw):
    return Snap(name, state, NOW_MS - age_ms, **kw)


def run(repositories, *args, family="es8", cluster=None):
    return judged(cluster or Cluster(family, repositories), *args)


def perf(check):
    return {p.split("=")[0]: p.split("=")[1] for p in check.perfdata}
