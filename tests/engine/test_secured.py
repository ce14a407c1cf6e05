"""The check against secured engines (issue 22): least privilege measured,
credentials, TLS served by the engine itself.

One node per engine for the whole module (tests/engine/secured.py starts
it: security on, users and roles from files, HTTPS from a CA made with
openssl).  Each role in ROLES is the smallest that works, as measured here;
README and SECURITY.md copy it.  Every 403 line asserted names the action
the engine itself refused; a privilege a mode no longer asks for (the
request plan, plugin/plan.py) is proven unneeded by a run without it.  Run: python -m pytest -m "engine and secured".
"""
import json
import os
import re
import secrets
import subprocess
import time

import pytest
import requests

from tests import pki
from tests.engine import harness, secured
from tests.engine.checkrun import first_line
from tests.fake_es import _check_command

pytestmark = [pytest.mark.engine, pytest.mark.secured]

MAIN = "cluster:monitor/main"
REPOSITORIES = "cluster:admin/repository/get"
SNAPSHOTS = "cluster:admin/snapshot/get"
STATUS = "cluster:admin/snapshot/status"
HEALTH = "cluster:monitor/health_api"
# The health API asks the health node for what it gathered, as the user:
# without this action it still answers 200, its repository_integrity
# indicator "unknown" (measured on 8.19.21 and 9.5.2).
HEALTH_INFO = "cluster:monitor/fetch/health/info"

# mode -> (check arguments, {distribution: the smallest role that works}).
# Elasticsearch >= 7.16 (request plan, plugin/plan.py): a plain run sends no
# GET / (the window listing it accepts says "7.16 or later"), and -v and
# JSON take a 403 on GET / for that wording, so monitor_snapshot alone
# serves them; cluster:monitor/main only shows the exact version there.
# --health still reads the version first (GET /, cluster:monitor/main) and
# adds the health report's two actions on ES >= 8.7.  --slm would need
# read_slm, which the zips cannot show (no SLM handler: 405/400 before any
# authorisation).  OpenSearch has no monitor_snapshot, and refuses the 7.16
# listing (400), so GET / is asked: the actions themselves;
# snapshot/status only gives the size (perfdata), the check works without it.
OS_ROLE = [MAIN, REPOSITORIES, SNAPSHOTS, STATUS]
ROLES = {
    "plain": ((), {"es": ["monitor_snapshot"], "os": OS_ROLE}),
    "plain -r": (("-r", "daily"), {"es": ["monitor_snapshot"], "os": OS_ROLE}),
    "verbose": (("-v",), {"es": ["monitor_snapshot"], "os": OS_ROLE}),
    "json": (("--format", "json"), {"es": ["monitor_snapshot"], "os": OS_ROLE}),
    "health": (("--health",), {"es": ["monitor_snapshot", MAIN, HEALTH, HEALTH_INFO], "os": OS_ROLE}),
    "slm": (("--slm",), {"es": ["monitor_snapshot", "read_slm"], "os": OS_ROLE}),
    "slm_policy": (("--slm-policy", "nightly", "-r", "daily"), {"es": ["monitor_snapshot", "read_slm"], "os": OS_ROLE}),
}
ASSUMED_VERSION = "7.16 or later"   # plugin/plan.py ASSUMED: what -v and JSON say without GET /
OK_PLAIN = r"ES_SNAPSHOT OK - snap-p SUCCESS, (\d+[dhms])+ old \(repo daily\)"


def pytest_generate_tests(metafunc):
    if "secured_node" in metafunc.fixturenames:
        metafunc.parametrize("secured_node", [e.id for e in secured.selected()], indirect=True, scope="module")


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("secured-pki")
    return pki.make_pki(directory)


@pytest.fixture(scope="module")
def secured_node(request, pki_dir):
    engine = next(e for e in secured.SECURED if e.id == request.param)
    began = time.monotonic()
    try:
        started = secured.start(engine, pki_dir)
    except harness.EngineUnavailable as exc:
        if harness.required():
            pytest.fail(f"{engine.id} (secured) did not start: {exc}", pytrace=False)
        pytest.skip(f"{engine.id} (secured) not available: {exc}")
    request.addfinalizer(started.stop)
    started.index("logs", docs=1)
    started.repository("daily")
    key = "sm_policy" if started.opensearch else "policy"
    for name, metadata in (("snap-1", None), ("snap-p", {key: "nightly"})):
        status, body = started.snapshot("daily", name, "logs", **({"metadata": metadata} if metadata else {}))
        assert status == 200 and body["snapshot"]["state"] == "SUCCESS", body
    harness.record(started, scenario="secured start", seconds=round(time.monotonic() - began, 1))
    return started


def kind(secured_node):
    return "os" if secured_node.opensearch else "es"


def run(secured_node, *args, env=None, url=None, ca=True):
    """CompletedProcess of the check as an operator runs it (HTTPS, our CA)."""
    environ = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **(env or {})}
    command = [*_check_command(), "--url", url or secured_node.url, *(("--ca-cert", secured_node.security.ca) if ca else ()), *args]
    return subprocess.run(command, capture_output=True, text=True, env=environ, timeout=60,
                          stdin=subprocess.DEVNULL)


def as_monitor(secured_node, *args, **kw):
    return run(secured_node, "--user", secured.USER, *args, env={"ES_PASSWORD": secured_node.security.passwords[secured.USER]}, **kw)


def where(secured_node, url=None):
    return (url or secured_node.url).split("//", 1)[1]


# -- least privilege ------------------------------------------------------------------

@pytest.mark.parametrize("mode", list(ROLES))
def test_ok_documented_role(secured_node, mode):
    args, roles = ROLES[mode]
    secured_node.security.set_role(roles[kind(secured_node)])
    asked = len(root_asked(secured_node))
    result = as_monitor(secured_node, *args)
    harness.record(secured_node, scenario=f"secured role {mode}", role=roles[kind(secured_node)], exit_code=result.returncode,
                   line=first_line(result.stdout))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.fullmatch(OK_PLAIN, status_line(result, mode)), result.stdout
    if mode in ("verbose", "json"):
        assert shown_version(result, mode) == (engine_version(secured_node) if secured_node.opensearch else ASSUMED_VERSION)
    if not secured_node.serves_root:
        # What rests on the stand-in for GET / (ES 8.x/9.x): only the 403
        # -v and JSON take, and --health; a plain run never asks it.
        expected = {"verbose": [403], "json": [403], "health": [200]}.get(mode, [])
        assert root_asked(secured_node)[asked:] == expected


def engine_version(secured_node):
    return secured_node.engine.version


def shown_version(result, mode):
    """The version the output names: the -v "cluster:" line, JSON's cluster.version."""
    if mode == "json":
        return json.loads(result.stdout)["cluster"]["version"]
    lines = [line for line in result.stdout.splitlines() if line.startswith("cluster: ")]
    assert len(lines) == 1, result.stdout
    return lines[0].split(" ", 2)[2]


def status_line(result, mode):
    """The status line, or what JSON says in its place (state and summary)."""
    if mode != "json":
        return first_line(result.stdout)
    document = json.loads(result.stdout)
    return f"ES_SNAPSHOT {document['state']} - {document['summary']}"


def root_asked(secured_node):
    """The stand-in's answers to GET / so far (ES 8.x/9.x; [] where the node answers it)."""
    return list(getattr(secured_node.security, "root_answers", []))


def refused(secured_node, action, step):
    """The first line of a 403 for ``action`` at ``step``, the engine's reason after it."""
    # Listed per repository (OpenSearch, ES < 7.14): the error names it.
    per_repository = step == "list snapshots" and (secured_node.opensearch or secured_node.version < (7, 14))
    head = (f"ES_SNAPSHOT UNKNOWN - {'repository ' + repr('daily') + ': ' if per_repository else ''}"
            f"authorisation failed at {where(secured_node)} (HTTP 403) to {step}: "
            f"the user may not run the action {action}; ")
    if secured_node.opensearch:
        return head + f"no permissions for [{action}] and User [name={secured.USER}"
    if action == MAIN and not secured_node.serves_root:
        # ES 8.x/9.x zips have no GET / (tests/engine/secured.py): the stand-in
        # asks the node's _has_privileges and says so.
        return head + f"action [{action}] is unauthorized for user [{secured.USER}] (test stand-in"
    return head + f"action [{action}] is unauthorized for user [{secured.USER}]"


# (mode, the role, the privilege taken away, the action the engine refuses,
# the step): each privilege of the documented role, and of the same role
# spelt as single actions, taken away in turn.  No action (None): the mode
# no longer asks for what the privilege grants; the run is proven to work
# without it.
REMOVALS = {
    "es": [
        ("plain", ["monitor_snapshot", MAIN], MAIN, None, None),
        ("verbose", ["monitor_snapshot", MAIN], MAIN, None, None),
        ("json", ["monitor_snapshot", MAIN], MAIN, None, None),
        ("plain", ["monitor_snapshot"], "monitor_snapshot", REPOSITORIES, "list repositories"),
        ("plain", [REPOSITORIES, SNAPSHOTS], REPOSITORIES, REPOSITORIES, "list repositories"),
        ("plain", [REPOSITORIES, SNAPSHOTS], SNAPSHOTS, SNAPSHOTS, "list snapshots"),
        ("plain -r", [REPOSITORIES, SNAPSHOTS], REPOSITORIES, None, None),
        ("plain -r", [SNAPSHOTS], SNAPSHOTS, SNAPSHOTS, "list snapshots"),
        ("health", ["monitor_snapshot", MAIN, HEALTH, HEALTH_INFO], MAIN, MAIN, "read the cluster version"),
        ("health", ["monitor_snapshot", MAIN, HEALTH, HEALTH_INFO], HEALTH, HEALTH, "read the health report"),
    ],
    "os": [
        ("plain", OS_ROLE, MAIN, MAIN, "read the cluster version"),
        ("plain", OS_ROLE, REPOSITORIES, REPOSITORIES, "list repositories"),
        ("plain", OS_ROLE, SNAPSHOTS, SNAPSHOTS, "list snapshots"),
        ("plain -r", OS_ROLE, REPOSITORIES, None, None),
        ("verbose", OS_ROLE, MAIN, MAIN, "read the cluster version"),
        ("json", OS_ROLE, MAIN, MAIN, "read the cluster version"),
    ],
}


def _removals(refused_by_engine):
    return [(k, i) for k, rows in REMOVALS.items() for i, row in enumerate(rows)
            if (row[3] is not None) == refused_by_engine]


def _removal_id(k, i):
    mode, _, removed, _, _ = REMOVALS[k][i]
    return f"{k}-{mode.replace(' ', '')}-{removed}"


def _run_without(secured_node, distribution, index):
    """The documented role works, then the run without the privilege:
    (its result, its status line, the stand-in's answers to GET / meanwhile)."""
    if distribution != kind(secured_node):
        pytest.skip(f"a {distribution} role")
    mode, role, removed, _, _ = REMOVALS[distribution][index]
    args = ROLES[mode][0]
    if mode == "health" and removed != MAIN and not secured_node.es_at_least(8, 7):
        pytest.skip("no health report below Elasticsearch 8.7: --health sends no request")
    secured_node.security.set_role(role)
    before = as_monitor(secured_node, *args)
    assert before.returncode == 0, f"{role} does not work on {secured_node.engine.id}: {before.stdout}"
    if mode in ("verbose", "json"):
        assert shown_version(before, mode) == engine_version(secured_node), before.stdout
    secured_node.security.set_role([p for p in role if p != removed])
    asked = len(root_asked(secured_node))
    result = as_monitor(secured_node, *args)
    line = status_line(result, mode)
    harness.record(secured_node, scenario=f"secured {mode} without {removed}", exit_code=result.returncode, line=line)
    return result, line, root_asked(secured_node)[asked:]


@pytest.mark.parametrize("distribution, index", _removals(True), ids=[_removal_id(k, i) for k, i in _removals(True)])
def test_unknown_privilege_removed_names_the_action(secured_node, distribution, index):
    _, _, _, action, step = REMOVALS[distribution][index]
    result, line, _ = _run_without(secured_node, distribution, index)
    assert result.returncode == 3 and line.startswith(refused(secured_node, action, step)), line


@pytest.mark.parametrize("distribution, index", _removals(False), ids=[_removal_id(k, i) for k, i in _removals(False)])
def test_ok_privilege_the_mode_no_longer_asks_for_removed(secured_node, distribution, index):
    """ES >= 7.16: a plain run sends no GET / (nor GET /_snapshot with -r);
    -v and JSON take the 403 on GET / and name the version "7.16 or later"."""
    mode = REMOVALS[distribution][index][0]
    result, line, asked = _run_without(secured_node, distribution, index)
    assert result.returncode == 0 and re.fullmatch(OK_PLAIN, line), result.stdout + result.stderr
    if mode in ("verbose", "json"):
        # Only a 403 on GET / gives this wording (plugin/plan.py): the node's
        # own on 7.17, the stand-in's (the node's _has_privileges) on 8.x/9.x.
        assert shown_version(result, mode) == ASSUMED_VERSION, result.stdout
        assert asked == ([] if secured_node.serves_root else [403])
    else:
        assert asked == [], "a plain run on ES >= 7.16 sends no GET /"


def test_unknown_health_without_fetch_health_info_has_no_403_to_quote(secured_node):
    """Without cluster:monitor/fetch/health/info the engine refuses nothing:
    the report comes back 200 with repository_integrity "unknown".  The
    check says what the engine said; it cannot name the action (no guess)."""
    if not secured_node.es_at_least(8, 7):
        pytest.skip("no health report below Elasticsearch 8.7; OpenSearch has none")
    secured_node.security.set_role(["monitor_snapshot", MAIN, HEALTH])
    result = as_monitor(secured_node, "--health")
    assert (result.returncode, first_line(result.stdout)) == (
        3, "ES_SNAPSHOT UNKNOWN - health repository_integrity is unknown: No repository health info.")
    secured_node.security.set_role(ROLES["health"][1]["es"])
    assert as_monitor(secured_node, "--health").returncode == 0


def test_ok_without_snapshot_status_but_no_size(secured_node):
    """The size of the newest snapshot comes from _status where the listing
    has no index_details (OpenSearch, ES < 7.13): without
    cluster:admin/snapshot/status the check still works, without its size."""
    if not secured_node.opensearch:
        pytest.skip("ES >= 7.13 lists the size: _status is not asked for")
    secured_node.security.set_role([MAIN, REPOSITORIES, SNAPSHOTS])
    result = as_monitor(secured_node)
    assert result.returncode == 0 and re.fullmatch(OK_PLAIN, first_line(result.stdout)), result.stdout
    assert " size=" not in result.stdout
    secured_node.security.set_role([MAIN, REPOSITORIES, SNAPSHOTS, STATUS])
    assert " size=" in as_monitor(secured_node).stdout


def test_slm_without_read_slm_cannot_be_told_on_the_zips(secured_node):
    """No SLM (ES) or snapshot-management (OpenSearch) handler in the
    integ-test-zips: the engine answers 405/400 before any authorisation, so
    no 403 for the missing read_slm can be had here; the verdict stands."""
    secured_node.security.set_role(ROLES["plain"][1][kind(secured_node)])
    result = as_monitor(secured_node, "--slm", "-v")
    notes = [line for line in result.stdout.splitlines() if line.startswith("note: --slm")]
    assert result.returncode == 0 and len(notes) == 1, result.stdout
    assert re.search(r"HTTP (405|400)", notes[0]), notes


# -- credentials --------------------------------------------------------------------------

def test_ok_password_file(secured_node, tmp_path):
    secured_node.security.set_role(ROLES["plain"][1][kind(secured_node)])
    secret = tmp_path / "password"
    secret.write_text(secured_node.security.passwords[secured.USER] + "\n")
    secret.chmod(0o600)
    result = run(secured_node, "--user", secured.USER, "--password-file", str(secret))
    assert result.returncode == 0 and re.fullmatch(OK_PLAIN, first_line(result.stdout)), result.stdout


def test_unknown_missing_credentials(secured_node):
    result = run(secured_node, url=secured_node.direct_url)
    assert (result.returncode, first_line(result.stdout)) == (
        3, f"ES_SNAPSHOT UNKNOWN - authentication required at {where(secured_node, secured_node.direct_url)} (HTTP 401): no "
           "credentials were given (--user with $ES_PASSWORD or --password-file, an API key or a bearer token)")


def _refused_user(secured_node, user):
    # A plain run without -r asks GET /_snapshot first (plugin/plan.py), on every engine.
    reason = "check the credentials" if secured_node.opensearch else f"unable to authenticate user [{user}] for REST request [/_snapshot]"
    return f"ES_SNAPSHOT UNKNOWN - authentication failed at {where(secured_node, secured_node.direct_url)} (HTTP 401) as user '{user}': {reason}"


def test_unknown_wrong_password(secured_node):
    result = run(secured_node, "--user", secured.USER, env={"ES_PASSWORD": "not-" + secured_node.security.passwords[secured.USER]},
                 url=secured_node.direct_url)
    assert (result.returncode, first_line(result.stdout)) == (3, _refused_user(secured_node, secured.USER))


def test_unknown_password_changed_then_user_deleted(secured_node):
    """What an expired login looks like here: the engines tell neither from a wrong password."""
    security, user = secured_node.security, "leaver"
    old, new = "p" + secrets.token_urlsafe(18), "p" + secrets.token_urlsafe(18)
    security.add_user(user, old)
    assert "HTTP 401" not in run(secured_node, "--user", user, env={"ES_PASSWORD": old}).stdout
    security.change_password(user, new, old)
    result = run(secured_node, "--user", user, env={"ES_PASSWORD": old}, url=secured_node.direct_url)
    assert (result.returncode, first_line(result.stdout)) == (3, _refused_user(secured_node, user))
    security.delete_user(user, new)
    result = run(secured_node, "--user", user, env={"ES_PASSWORD": new}, url=secured_node.direct_url)
    assert (result.returncode, first_line(result.stdout)) == (3, _refused_user(secured_node, user))


def test_bearer_service_token_then_removed(secured_node, tmp_path):
    """A service-account token (file based) is accepted; once removed, its
    own line.  No service account holds the snapshot actions (GET
    /_security/service on 9.5.2: auto-ops has monitor, read_ilm, read_slm;
    fleet-server, fleet-server-remote and kibana no monitor_snapshot), so
    the run stops at the 403 for listing repositories: past the 401."""
    if secured_node.opensearch:
        pytest.skip("OpenSearch has no service-account tokens")
    security = secured_node.security
    token = security.service_token("elastic/fleet-server", "check-es-snapshot")
    token_file = tmp_path / "token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    deadline = time.monotonic() + 20
    while True:  # the node reads service_tokens again within a second or so
        result = run(secured_node, "--bearer-token-file", str(token_file), "-vvv")
        if "HTTP 401" not in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert result.returncode == 3 and first_line(result.stdout).startswith(
        f"ES_SNAPSHOT UNKNOWN - authorisation failed at {where(secured_node)} (HTTP 403) to list repositories: the user may "
        f"not run the action {REPOSITORIES}; action [{REPOSITORIES}] is unauthorized for "
        f"{'service account' if secured_node.es_at_least(8, 0) else 'user'} [elastic/fleet-server]"), result.stdout
    assert token not in result.stdout + result.stderr
    security.tool("elasticsearch-service-tokens", "delete", "elastic/fleet-server", "check-es-snapshot")
    deadline = time.monotonic() + 20
    while True:
        result = run(secured_node, env={"ES_BEARER_TOKEN": token}, url=secured_node.direct_url)
        if "HTTP 401" in result.stdout or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    harness.record(secured_node, scenario="secured removed token", line=first_line(result.stdout))
    assert (result.returncode, first_line(result.stdout)) == (
        3, f"ES_SNAPSHOT UNKNOWN - authentication failed at {where(secured_node, secured_node.direct_url)} (HTTP 401) with the "
           f"bearer token: {REMOVED_TOKEN[secured_node.engine.id]}")


# What each engine says for a service token no longer in service_tokens
# (measured): the file realm has none, the index realm has no .security index.
REMOVED_TOKEN = {
    "es-7.17.29": "error attempting to authenticate request",
    "es-8.19.21": "error attempting to authenticate request",
    "es-9.5.2": "error attempting to authenticate request",
}


def test_api_keys_cannot_be_created_on_the_zips(secured_node):
    """API keys live in the .security index, whose mapping needs the
    analysis-common module the integ-test-zips lack (ES); OpenSearch 2.19's
    security plugin has no API keys."""
    if secured_node.opensearch:
        status, _ = secured_node.request("POST", "/_security/api_key", {"name": "check_es_snapshot"})
        assert status in (400, 404, 405), status
        return
    status, body = secured_node.request("POST", "/_security/api_key", {"name": "check_es_snapshot"})
    assert status == 400 and "Unknown filter type [pattern_capture]" in str(body), (status, body)


def test_no_secret_at_vvv(secured_node, tmp_path):
    secured_node.security.set_role(ROLES["health"][1][kind(secured_node)])
    password = secured_node.security.passwords[secured.USER]
    for args in ((), ("--format", "json"), ("--slm", "--health")):
        result = as_monitor(secured_node, "-vvv", *args)
        assert result.returncode == 0, result.stdout
        whole = result.stdout + result.stderr
        assert password not in whole and "Authorization: Basic" not in whole
    wrong = run(secured_node, "--user", secured.USER, "-vvv", env={"ES_PASSWORD": password + "x"}, url=secured_node.direct_url)
    assert wrong.returncode == 3 and password not in wrong.stdout + wrong.stderr


# -- TLS served by the engine itself ---------------------------------------------------------

def test_crit_tls_without_our_ca(secured_node):
    result = as_monitor(secured_node, url=secured_node.direct_url, ca=False)
    assert (result.returncode, first_line(result.stdout)) == (
        2, f"ES_SNAPSHOT CRITICAL - cannot list repositories at {where(secured_node, secured_node.direct_url)}: TLS "
           "certificate verification failed (unable to get local issuer certificate)")


def test_engine_serves_our_certificate(secured_node):
    """The node's own HTTPS answers with the server certificate our CA signed."""
    response = requests.get(secured_node.direct_url + "/_cluster/health", auth=secured_node.auth, verify=secured_node.security.ca, timeout=30)
    assert response.status_code == 200
    assert secured_node.direct_url.startswith("https://")
