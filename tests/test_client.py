"""The HTTP layer: every status, body and transport fault becomes one EsError."""
import base64
import socket
import ssl

import nagiosplugin
import pytest
import requests
import responses
from urllib3.exceptions import NewConnectionError

from plugin.client import EsClient, describe_cause
from plugin.errors import EsError
from plugin.reader import path_of
from plugin.credentials import Redactor
from tests.conftest import FIXTURES

BASE = "http://es.example:9200"


class Budget:
    """A deadline that never runs out, unless told so."""
    network_budget = 9.0

    def __init__(self, left=9.0):
        self.left = left

    def remaining(self):
        return self.left


def client(**kw):
    kw.setdefault("deadline", Budget())
    return EsClient(BASE, **kw)


@responses.activate
def test_ok_json_body_is_decoded():
    responses.get(f"{BASE}/", json={"version": {"number": "8.1.0"}})
    assert client().get("/")["version"]["number"] == "8.1.0"


@responses.activate
def test_ok_path_prefix_and_query_are_kept():
    responses.get("http://proxy/es/_snapshot/r/_all?ignore_unavailable=true", json={"snapshots": []})
    c = EsClient("http://proxy/es/", deadline=Budget())
    assert c.get(path_of("_snapshot", "r", "_all"), {"ignore_unavailable": "true"}) == {"snapshots": []}


def test_path_of_quotes_names():
    assert path_of("_snapshot", "a b/c", "*") == "/_snapshot/a%20b%2Fc/*"


@responses.activate
def test_unknown_401_without_credentials_says_none_were_given():
    body = (FIXTURES / "elasticsearch-8.x-error-401-security_exception.json").read_bytes()
    responses.get(f"{BASE}/", body=body, status=401, content_type="application/json")
    with pytest.raises(EsError) as err:
        client().get("/")
    assert err.value.state == nagiosplugin.Unknown
    assert str(err.value) == ("authentication required at es.example:9200 (HTTP 401): no credentials were given "
                              "(--user with $ES_PASSWORD or --password-file, an API key or a bearer token)")


# Reasons as ES 8.19.21 gave them (secured engine tier): a wrong password, a
# service token that was removed; OpenSearch 2.19.3 says only "Unauthorized".
@pytest.mark.parametrize("authorization, body, line", [
    ("Basic " + base64.b64encode(b"monitor:wrong").decode(),
     b'{"error":{"type":"security_exception","reason":"unable to authenticate user [monitor] for REST request [/]"},'
     b'"status":401}',
     "as user 'monitor': unable to authenticate user [monitor] for REST request [/]"),
    ("Bearer AAEAAWVsYXN0aWMvZmxlZXQ", b'{"error":{"type":"security_exception","reason":"error attempting to '
     b'authenticate request"},"status":401}', "with the bearer token: error attempting to authenticate request"),
    ("ApiKey eHh4Onl5eQ==", b'{"error":{"type":"security_exception","reason":"unable to authenticate with provided '
     b'credentials and anonymous access is not allowed for this request"},"status":401}',
     "with the API key: unable to authenticate with provided credentials and anonymous access is not allowed "
     "for this request"),
    ("Basic " + base64.b64encode(b"monitor:wrong").decode(), b"Unauthorized", "as user 'monitor': check the credentials"),
])
@responses.activate
def test_unknown_401_names_the_credentials_refused(authorization, body, line):
    responses.get(f"{BASE}/", body=body, status=401)
    with pytest.raises(EsError) as err:
        client(authorization=authorization).get("/")
    assert str(err.value) == f"authentication failed at es.example:9200 (HTTP 401) {line}"


@pytest.mark.parametrize("body", [b"", b"Unauthorized", b"Authentication finally failed"])
@responses.activate
def test_unknown_401_opensearch_plain_text(body):
    responses.get(f"{BASE}/", body=body, status=401, content_type="text/plain")
    with pytest.raises(EsError) as err:
        client().get("/")
    assert err.value.state == nagiosplugin.Unknown and err.value.status == 401


# The reasons as the secured engines gave them (ES 7.17.29; OpenSearch 2.19.3
# with its security plugin): the action named is the engine's, never a
# privilege the plugin guesses (it used to blame monitor_snapshot, which the
# user had).
@pytest.mark.parametrize("reason, action", [
    ("action [cluster:monitor/main] is unauthorized for user [monitor] with roles [snapshot_monitor], "
     "this action is granted by the cluster privileges [monitor,manage,all]", "cluster:monitor/main"),
    ("no permissions for [cluster:admin/snapshot/get] and User [name=monitor, backend_roles=[], "
     "requestedTenant=null]", "cluster:admin/snapshot/get"),
])
@responses.activate
def test_unknown_403_names_the_action_the_engine_refused(reason, action):
    responses.get(f"{BASE}/_snapshot", status=403, json={
        "error": {"type": "security_exception", "reason": reason}, "status": 403})
    with pytest.raises(EsError) as err:
        client().get("/_snapshot", what="list repositories")
    assert err.value.state == nagiosplugin.Unknown
    # The reason follows, cut like every reason on the status line.
    assert str(err.value).startswith(f"authorisation failed at es.example:9200 (HTTP 403) to list repositories: "
                                     f"the user may not run the action {action}; {reason[:120]}")
    assert "monitor_snapshot" not in str(err.value)


@pytest.mark.parametrize("body", [{"error": "forbidden"}, {"error": {"type": "security_exception", "reason": ""}}])
@responses.activate
def test_unknown_403_without_an_action_names_none(body):
    responses.get(f"{BASE}/_snapshot", status=403, json=body)
    with pytest.raises(EsError) as err:
        client().get("/_snapshot", what="list repositories")
    assert str(err.value) in ("authorisation failed at es.example:9200 (HTTP 403) to list repositories: forbidden",
                              "authorisation failed at es.example:9200 (HTTP 403) to list repositories: "
                              "security_exception")


@responses.activate
def test_404_carries_the_error_type():
    responses.get(f"{BASE}/_snapshot/x/_all", status=404, json={
        "error": {"type": "repository_missing_exception", "reason": "[x] missing"}, "status": 404})
    with pytest.raises(EsError) as err:
        client().get("/_snapshot/x/_all")
    assert err.value.error_type == "repository_missing_exception"


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_crit_5xx_with_html_body(status):
    responses.get(f"{BASE}/", status=status, body="<html><body>Bad Gateway</body></html>",
                  content_type="text/html")
    with pytest.raises(EsError) as err:
        client().get("/", what="read the cluster version")
    assert err.value.state == nagiosplugin.Critical
    assert str(err.value) == f"HTTP {status} from es.example:9200 for read the cluster version"


@responses.activate
def test_crit_500_json_reason():
    responses.get(f"{BASE}/_snapshot/r/*", status=500, json={
        "error": {"type": "repository_exception", "reason": "[r] cannot retrieve snapshots list"}})
    with pytest.raises(EsError) as err:
        client().get("/_snapshot/r/*", what="list snapshots")
    assert err.value.state == nagiosplugin.Critical
    assert "cannot retrieve snapshots list" in str(err.value)


@pytest.mark.parametrize("body, words", [
    (b"<html>login</html>", "HTML instead of JSON"),
    (b'{"snapshots": [{"snap', "not valid JSON (truncated?)"),
    (b"", "an empty body"),
    (b"\xff\xfe\x00garbage", "not valid JSON"),
    (b"[" * 100000, "a JSON array where an object is due"),
])
@responses.activate
def test_unknown_body_that_is_not_json(body, words):
    responses.get(f"{BASE}/", body=body, status=200)
    with pytest.raises(EsError) as err:
        client().get("/")
    assert err.value.state == nagiosplugin.Unknown
    assert words in str(err.value)


@pytest.mark.parametrize("exc, words", [
    (requests.exceptions.ConnectTimeout(), "no complete answer within 9s (-t, timed out)"),
    (requests.exceptions.ReadTimeout(), "no complete answer within 9s (-t, timed out)"),
    (requests.exceptions.ConnectionError(ConnectionRefusedError(111, "refused")), "connection refused"),
    (requests.exceptions.ConnectionError(socket.gaierror(-2, "Name or service not known")),
     "host name could not be resolved"),
    (requests.exceptions.SSLError(ssl.SSLError(1, "wrong version")), "TLS handshake failed (ssl error)"),
    (requests.exceptions.TooManyRedirects(), "more than 3 redirects"),
    (requests.exceptions.ChunkedEncodingError(), "broke off in the middle"),
])
@responses.activate
def test_crit_transport_faults(exc, words):
    responses.get(f"{BASE}/", body=exc)
    with pytest.raises(EsError) as err:
        client().get("/", what="read the cluster version")
    assert err.value.state == nagiosplugin.Critical
    assert str(err.value).startswith("cannot read the cluster version at es.example:9200: ")
    assert words in str(err.value)


def test_describe_cause_finds_wrapped_refusal():
    inner = NewConnectionError(None, "Failed to establish a new connection: [Errno 111]")
    inner.__cause__ = ConnectionRefusedError(111, "Connection refused")
    assert describe_cause(requests.exceptions.ConnectionError(inner), 9) == "connection refused"


def test_crit_no_time_left_sends_nothing():
    with pytest.raises(EsError) as err:
        client(deadline=Budget(left=0)).get("/", what="list snapshots")
    assert err.value.state == nagiosplugin.Critical
    assert str(err.value) == "timed out before list snapshots at es.example:9200"


@responses.activate
def test_retry_after_that_fits_is_retried_once():
    responses.get(f"{BASE}/", status=429, headers={"Retry-After": "0"}, json={})
    responses.get(f"{BASE}/", json={"ok": True})
    assert client().get("/") == {"ok": True}
    assert len(responses.calls) == 2


@responses.activate
def test_crit_retry_after_that_does_not_fit():
    responses.get(f"{BASE}/", status=503, headers={"Retry-After": "120"}, json={})
    with pytest.raises(EsError) as err:
        client().get("/")
    assert err.value.state == nagiosplugin.Critical and len(responses.calls) == 1


@responses.activate
def test_authorization_and_user_agent_are_sent():
    responses.get(f"{BASE}/", json={})
    client(authorization="ApiKey c2VjcmV0").get("/")
    sent = responses.calls[0].request.headers
    assert sent["Authorization"] == "ApiKey c2VjcmV0"
    assert sent["User-Agent"].startswith("check_es_snapshot/")


@responses.activate
def test_secret_in_error_reason_is_redacted():
    responses.get(f"{BASE}/", status=400, json={"error": {"type": "x", "reason": "bad token s3cr3t-canary"}})
    with pytest.raises(EsError) as err:
        client(redact=Redactor(["s3cr3t-canary"])).get("/")
    assert "s3cr3t-canary" not in str(err.value) and "***" in str(err.value)
