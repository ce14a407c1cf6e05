"""Secured nodes for the engine tier (issue 22): security on, users and roles
from files, TLS on HTTP served by the engine itself from a CA made with
openssl (tests/pki.py).

Elasticsearch 7.17.29, 8.19.21 and 9.5.2: ``xpack.security.enabled``, the
file realm (``elasticsearch-users``, ``config/roles.yml``, reloaded by the
node when it changes), a service-account token from
``elasticsearch-service-tokens``.  OpenSearch 2.19.3 with its security
plugin 2.19.3.0 (it must match the engine's version exactly): our own
certificates for transport and HTTP, users and roles in its
``internal_users.yml`` / ``roles.yml`` / ``roles_mapping.yml``, loaded into
its index at the first start (``allow_default_init_securityindex``), then
changed through its REST API as the admin user.

Environment:
  CHECK_ES_SECURED   comma-separated ids of SECURED to run (default: all)
"""
import json
import os
import secrets
import shutil
import subprocess
import time

import requests

from tests import pki
from tests.engine import harness

_ES = {e.id: e for e in harness.ENGINES}
SECURED = (
    _ES["es-9.5.2"], _ES["es-8.19.21"], _ES["es-7.17.29"],
    # The plugin is served for 2.19.3 (2.19.2.0 was refused); the normal tier keeps 2.19.6.
    harness.Engine("os-2.19.3", "opensearch", "2.19.3", "17", "security plugin 2.19.3.0"),
)
OPENSEARCH_SECURITY = "org.opensearch.plugin:opensearch-security:{version}.0:zip"
ROLE = "snapshot_monitor"   # the role under test, rewritten by set_role()
USER = "monitor"            # holds only ROLE


def selected():
    wanted = [w.strip() for w in os.environ.get("CHECK_ES_SECURED", "").split(",") if w.strip()]
    unknown = set(wanted) - {e.id for e in SECURED}
    if unknown:
        raise SystemExit(f"CHECK_ES_SECURED names unknown engines {sorted(unknown)}; "
                         f"known: {[e.id for e in SECURED]}")
    return tuple(e for e in SECURED if not wanted or e.id in wanted)


def fetch_plugin(engine):
    """The security plugin zip for this OpenSearch version, fetched with Maven once."""
    zips = harness.cache_dir() / "zips"
    target = zips / f"opensearch-security-{engine.version}.0.zip"
    if target.exists():
        return target
    if shutil.which("mvn") is None:
        raise harness.EngineUnavailable("mvn (Maven) is not installed: cannot fetch the security plugin")
    result = subprocess.run(
        ["mvn", "-B", "-q", harness.MAVEN_COPY, "-Dartifact=" + OPENSEARCH_SECURITY.format(version=engine.version),
         f"-DoutputDirectory={zips}"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if result.returncode != 0 or not target.exists():
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise harness.EngineUnavailable(f"Maven could not fetch the security plugin: {' / '.join(tail)}")
    return target


def _run(command, env, what):
    result = subprocess.run(command, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                            timeout=180)
    if result.returncode != 0:
        raise harness.EngineUnavailable(f"{what} failed: {(result.stdout + result.stderr).strip()[-600:]}")
    return result.stdout


class Security:
    """What a secured node needs besides the engine: certificates, users, roles.

    ``passwords`` holds every user's password (fresh per run: they are also
    the secrets no output may show).  ``set_role`` rewrites ROLE's cluster
    privileges and returns once the node applies them."""

    def __init__(self, engine, pki_dir):
        self.engine = engine
        self.pki = pki_dir
        # A letter first: a leading "-" would read as an option to elasticsearch-users.
        self.passwords = {"admin": "p" + secrets.token_urlsafe(18), USER: "p" + secrets.token_urlsafe(18)}
        self.env = None
        self.node = None

    # -- harness.start() hooks --------------------------------------------------
    def prepare(self, node, env):
        self.env = dict(env)
        self.node = node
        certs = node.home / "config" / "certs"
        certs.mkdir()
        for name in ("ca.pem", "server.pem", "server.key"):
            shutil.copy(self.pki.dir / name, certs / name)
        node.scheme, node.auth, node.verify = "https", ("admin", self.passwords["admin"]), str(self.pki.ca)
        self._prepare(node)

    def started(self, node):
        pass

    def tls(self):
        return pki.server_context(self.pki.server)

    @property
    def ca(self):
        return str(self.pki.ca)


class EsSecurity(Security):
    def _prepare(self, node):
        self.write_role([])
        for user, role in (("admin", "superuser"), (USER, ROLE)):
            self.users("useradd", user, "-p", self.passwords[user], "-r", role)

    def settings(self, node):
        return {
            "xpack.security.enabled": "true",
            "xpack.security.http.ssl.enabled": "true",
            "xpack.security.http.ssl.key": "certs/server.key",
            "xpack.security.http.ssl.certificate": "certs/server.pem",
            "xpack.security.http.ssl.certificate_authorities": "certs/ca.pem",
            # roles.yml, users and service_tokens are read again when they
            # change: every second, not every five.
            "resource.reload.interval.high": "1s",
        }

    def tool(self, name, *args):
        """Output of one of the engine's security tools, run on its config."""
        command = [str(self.node.home / "bin" / name), *args]
        if self.node.owner is not None:
            command = [harness._runuser(), "-u", harness.ENGINE_USER, "--"] + command
        return _run(command, self.env, name)

    def users(self, *args):
        return self.tool("elasticsearch-users", *args)

    def service_token(self, account, name):
        """A service-account token (file based: no .security index needed)."""
        out = self.tool("elasticsearch-service-tokens", "create", account, name)
        return out.strip().rpartition(" = ")[2]

    def write_role(self, cluster):
        """ROLE with these cluster privileges (names or actions), as YAML.

        A marker action no request uses (``cluster:check-es-snapshot/N``)
        tells when the node has read this version of the file."""
        self.generation = getattr(self, "generation", 0) + 1
        marker = f"cluster:check-es-snapshot/{self.generation}"
        lines = [f"{ROLE}:", "  cluster:"] + [f"    - {json.dumps(p)}" for p in [*cluster, marker]]
        path = self.node.home / "config" / "roles.yml"
        path.write_text("\n".join(lines) + "\n")
        if self.node.owner is not None:
            os.chown(path, *self.node.owner)
        return marker

    def set_role(self, cluster):
        """ROLE rewritten; returns once the node applies it (its own
        _has_privileges answer for the marker, asked as the user)."""
        marker = self.write_role(cluster)
        deadline = time.monotonic() + 30
        while not self.has_privileges([marker])[marker]:
            assert time.monotonic() < deadline, f"{self.engine.id} did not read roles.yml again in 30s"
            time.sleep(0.3)

    def has_privileges(self, actions, user=USER):
        """The node's own answer: which of ``actions`` the user holds."""
        response = requests.post(self.node.direct_url + "/_security/user/_has_privileges",
                                 json={"cluster": list(actions)}, auth=(user, self.passwords[user]),
                                 verify=self.ca, timeout=30)
        response.raise_for_status()
        return response.json()["cluster"]

    def _wait_login(self, user, password, accepted, timeout_s=30):
        """Until the node has read the users file again: the login works (or no longer)."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = requests.get(self.node.direct_url + "/_security/_authenticate", auth=(user, password),
                                  verify=self.ca, timeout=30).status_code
            if (status == 200) == accepted:
                return
            assert time.monotonic() < deadline, f"{self.engine.id}: the users file was not read again"
            time.sleep(0.3)

    def add_user(self, user, password):
        self.users("useradd", user, "-p", password, "-r", ROLE)
        self._wait_login(user, password, True)

    def change_password(self, user, password, old):
        self.users("passwd", user, "-p", password)
        self._wait_login(user, old, False)

    def delete_user(self, user, password):
        self.users("userdel", user)
        self._wait_login(user, password, False)

    def started(self, node):
        # What the stand-in answered, in order (HTTP status per GET /): the
        # tests tell a result that rests on it from one that never asked it.
        self.root_answers = []
        if not node.serves_root:
            node.root_proxy = harness.Proxy(node, root=self.root_answer, tls=self.tls())

    def root_answer(self, headers, body):
        """``GET /`` on ES 8.x/9.x, whose integ-test-zip has no handler for it
        (the rest-root module, which also registers the action
        cluster:monitor/main, is missing): who asks is authenticated by the
        node itself (_authenticate; the node's own 401 is passed on), and
        whether the user holds cluster:monitor/main is the node's own
        _has_privileges answer.  A refusal is this stand-in's 403, and says
        so: no engine text is imitated."""
        keep = {k: v for k, v in headers.items() if k.lower() == "authorization"}
        who = requests.get(self.node.direct_url + "/_security/_authenticate", headers=keep, verify=self.ca,
                           timeout=30)
        if who.status_code != 200:
            self.root_answers.append(who.status_code)
            return who.status_code, {k: v for k, v in who.headers.items()
                                     if k.lower() in ("content-type", "www-authenticate")}, who.content
        held = requests.post(self.node.direct_url + "/_security/user/_has_privileges", headers=keep,
                             json={"cluster": ["cluster:monitor/main"]}, verify=self.ca, timeout=30)
        if held.status_code == 200 and held.json()["has_all_requested"]:
            self.root_answers.append(200)
            return 200, {"Content-Type": "application/json"}, body
        reason = (f"action [cluster:monitor/main] is unauthorized for user [{who.json()['username']}] "
                  "(test stand-in for GET /: the node's _has_privileges says no)")
        error = {"error": {"type": "security_exception", "reason": reason}, "status": 403}
        self.root_answers.append(403)
        return 403, {"Content-Type": "application/json"}, json.dumps(error).encode()


class OsSecurity(Security):
    def _prepare(self, node):
        plugin = fetch_plugin(self.engine)
        _run([str(node.home / "bin" / "opensearch-plugin"), "install", "--batch", f"file://{plugin}"],
             self.env, "opensearch-plugin install")
        config = node.home / "config" / "opensearch-security"
        hashes = {user: self.hash(password) for user, password in self.passwords.items()}
        (config / "internal_users.yml").write_text(
            '_meta: {type: "internalusers", config_version: 2}\n'
            + "".join(f"{user}:\n  hash: {json.dumps(h)}\n  reserved: false\n" for user, h in hashes.items()))
        (config / "roles.yml").write_text(
            '_meta: {type: "roles", config_version: 2}\n'
            f"{ROLE}:\n  cluster_permissions: []\n")
        (config / "roles_mapping.yml").write_text(
            '_meta: {type: "rolesmapping", config_version: 2}\n'
            'all_access:\n  reserved: false\n  users: ["admin"]\n'
            f'{ROLE}:\n  reserved: false\n  users: ["{USER}"]\n')

    def hash(self, password):
        tool = self.node.home / "plugins" / "opensearch-security" / "tools" / "hash.sh"
        os.chmod(tool, 0o755)
        out = _run(["bash", str(tool), "-p", password], self.env, "the security plugin's hash.sh")
        return out.strip().splitlines()[-1]

    def settings(self, node):
        pem = {"pemcert_filepath": "certs/server.pem", "pemkey_filepath": "certs/server.key",
               "pemtrustedcas_filepath": "certs/ca.pem"}
        flags = {f"plugins.security.ssl.{layer}.{k}": v for layer in ("transport", "http") for k, v in pem.items()}
        flags.update({
            "plugins.security.ssl.http.enabled": "true",
            "plugins.security.ssl.transport.enforce_hostname_verification": "false",
            "plugins.security.nodes_dn": "CN=server",
            "plugins.security.allow_default_init_securityindex": "true",
            "plugins.security.restapi.roles_enabled": "all_access",
        })
        return flags

    def api(self, method, path, body=None):
        status, payload = self.node.request(method, "/_plugins/_security/api" + path, body)
        if status >= 300:
            raise AssertionError(f"{method} {path} -> {status}: {payload}")
        return payload

    def set_role(self, cluster):
        """Through the plugin's REST API: in force when the call returns."""
        self.api("PUT", f"/roles/{ROLE}", {"cluster_permissions": list(cluster)})

    def add_user(self, user, password):
        self.api("PUT", f"/internalusers/{user}", {"password": password})
        self.api("PUT", f"/rolesmapping/{ROLE}", {"users": [USER, user]})

    def change_password(self, user, password, old):
        self.api("PUT", f"/internalusers/{user}", {"password": password})

    def delete_user(self, user, password):
        self.api("DELETE", f"/internalusers/{user}")

    def started(self, node):
        # The security index is written just after the node answers yellow.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status, _ = node.request("GET", "/_plugins/_security/api/roles/" + ROLE)
            if status == 200:
                return
            time.sleep(0.5)
        raise harness.EngineUnavailable(f"{self.engine.id}: the security configuration was never loaded")


def start(engine, pki_dir):
    security = (OsSecurity if engine.distribution == "opensearch" else EsSecurity)(engine, pki_dir)
    node = harness.start(engine, security=security)
    node.security = security
    return node
