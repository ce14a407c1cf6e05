"""Credentials, TLS, redirects, hostile bodies: never a leak, never a hang.

TLS, broken connections, proxies and a sample of the canary run the real
script against a socket; compression on the wire and a refused connection
run cli.main in-process over a real socket; the rest runs cli.main
in-process without one (tests/incheck.py)."""
import base64
import gzip
import os
import time
from unittest import mock

import pytest

from plugin.credentials import Redactor
from plugin.options import parse_settings
from tests.conftest import NOW_MS, first_line, now_ms, run_check, run_with_fault, runner
from tests.incheck import main_over_http, main_with
from tests.fake_es import HOUR_MS, Cluster, Override, Snap
from tests.pki import server_context

CANARY = "canary-s3cret-7f3a"
OK_LINE = "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo backups)"


def cluster(now=NOW_MS, **kw):
    """One success an hour before ``now`` (pass now_ms() for the script as a subprocess)."""
    return Cluster("es8", {"backups": [Snap("s1", "SUCCESS", now - HOUR_MS)]}, **kw)


@pytest.fixture
def no_proxy_in_environ(monkeypatch):
    """main_over_http runs in this process, and the plugin reads the proxy
    variables from os.environ (urllib's getproxies): clear them, as the
    script's environment had none."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)


def secret_file(tmp_path, value, mode=0o600):
    path = tmp_path / "secret"
    path.write_text(value + "\n")
    os.chmod(path, mode)
    return str(path)


# -- TLS -------------------------------------------------------------------

def test_ok_tls_with_ca_cert_file(serve, pki):
    server = serve(cluster(now_ms()), tls=server_context(pki.server))
    code, out, _ = run_check("--url", server.url, "--ca-cert", str(pki.ca))
    assert (code, first_line(out)) == (0, OK_LINE)


def test_ok_tls_with_ca_cert_directory(serve, pki):
    server = serve(cluster(now_ms()), tls=server_context(pki.server))
    assert run_check("--url", server.url, "--ca-cert", str(pki.cadir))[0] == 0


@pytest.mark.parametrize("cert, words", [
    ("server", "unable to get local issuer certificate"),
    ("selfsigned", "self-signed certificate"),
    ("mismatch", "IP address mismatch, certificate is not valid for '127.0.0.1')"),
    ("expired", "certificate has expired"),
])
def test_crit_tls_verification_fails(serve, pki, cert, words):
    server = serve(cluster(now_ms()), tls=server_context(getattr(pki, cert)))
    args = ["--url", server.url] + (["--ca-cert", str(pki.ca)] if cert in ("mismatch", "expired") else [])
    code, out, err = run_check(*args)
    assert (code, err) == (2, "")
    assert first_line(out).startswith(f"ES_SNAPSHOT CRITICAL - cannot list repositories at "
                                      f"{server.url[8:]}: TLS certificate verification failed (")
    assert words in out


def test_ok_insecure_is_said_in_long_output(serve, pki):
    server = serve(cluster(now_ms()), tls=server_context(pki.selfsigned))
    code, out, _ = run_check("--url", server.url, "--insecure", "-v")
    assert (code, first_line(out)) == (0, OK_LINE)
    assert "note: TLS certificate verification is disabled (--insecure)" in out.splitlines()


def test_crit_server_requires_client_certificate(serve, pki):
    server = serve(cluster(now_ms()), tls=server_context(pki.server, client_ca=pki.ca))
    code, out, err = run_check("--url", server.url, "--ca-cert", str(pki.ca))
    assert (code, err) == (2, "")
    assert first_line(out).startswith(f"ES_SNAPSHOT CRITICAL - cannot list repositories at {server.url[8:]}: ")


def test_ok_client_certificate(serve, pki):
    server = serve(cluster(now_ms()), tls=server_context(pki.server, client_ca=pki.ca))
    cert, key = pki.client
    code, out, _ = run_check("--url", server.url, "--ca-cert", str(pki.ca),
                             "--client-cert", str(cert), "--client-key", str(key))
    assert (code, first_line(out)) == (0, OK_LINE)


# -- credentials ------------------------------------------------------------

def test_ok_basic_auth_from_password_file(inproc, tmp_path):
    server = inproc(cluster(auth={"user": "monitor", "password": CANARY}))
    code, out, _ = inproc.run("--url", server.url, "--user", "monitor", "--password-file",
                             secret_file(tmp_path, CANARY), "-v")
    assert code == 0 and "readable by other users" not in out


def test_note_world_readable_secret_file(inproc, tmp_path):
    server = inproc(cluster(auth={"user": "monitor", "password": CANARY}))
    path = secret_file(tmp_path, CANARY, mode=0o644)
    code, out, _ = inproc.run("--url", server.url, "--user", "monitor", "--password-file", path, "-v")
    assert code == 0
    assert f"note: password file {path} is readable by other users (chmod 600 it)" in out.splitlines()


def test_ok_credentials_in_url(inproc):
    server = inproc(cluster(auth={"user": "monitor", "password": CANARY}))
    url = server.url.replace("http://", f"http://monitor:{CANARY}@")
    code, out, err = inproc.run("--url", url, "-vvv")
    assert code == 0 and CANARY not in out + err


@pytest.mark.parametrize("form", ["encoded", "id:key"])
def test_ok_api_key(inproc, tmp_path, form):
    encoded = base64.b64encode(f"key-id:{CANARY}".encode()).decode()
    server = inproc(cluster(auth={"api_key": encoded}))
    value = encoded if form == "encoded" else f"key-id:{CANARY}"
    assert inproc.run("--url", server.url, env={"ES_API_KEY": value})[0] == 0
    assert inproc.run("--url", server.url, "--api-key-file", secret_file(tmp_path, value))[0] == 0


def test_ok_bearer_token(inproc, tmp_path):
    server = inproc(cluster(auth={"bearer": CANARY}))
    assert inproc.run("--url", server.url, "--bearer-token-file", secret_file(tmp_path, CANARY))[0] == 0


def test_unknown_403(inproc):
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot$", Override(
        403, b'{"error":{"type":"security_exception","reason":"action [cluster:admin/repository/get] '
             b'is unauthorized for user [monitor]"},"status":403}'))
    assert code == 3
    assert line == (f"ES_SNAPSHOT UNKNOWN - authorisation failed at {where} (HTTP 403) to list repositories: "
                    "the user may not run the action cluster:admin/repository/get; action "
                    "[cluster:admin/repository/get] is unauthorized for user [monitor]")


@pytest.mark.parametrize("args", [["--user", "u", "--api-key-file", "/etc/hostname"],
                                  ["--client-key", "/etc/hostname"], ["--insecure", "--ca-cert", "/etc/hostname"]])
def test_unknown_contradictory_credentials(args):
    code, out, _ = main_with({}, *args)
    assert code == 3 and out.startswith("ES_SNAPSHOT UNKNOWN - usage: ")


# -- redirects, hostile answers ---------------------------------------------

def test_redirect_to_another_host_does_not_carry_credentials(inproc):
    target = inproc(cluster())
    source = cluster(auth={"user": "monitor", "password": CANARY})
    source.overrides.append(("^/_snapshot$", Override(302, b"", headers={"Location": target.url + "/_snapshot"})))
    server = inproc(source)
    inproc.run("--url", server.url, "--user", "monitor", env={"ES_PASSWORD": CANARY})
    assert target.cluster.log and not any(e["authorization"] for e in target.cluster.log)


def test_crit_redirect_loop_is_bounded(inproc):
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot$",
                                       Override(302, headers={"Location": "/_snapshot"}))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - cannot list repositories at {where}: "
                               "more than 3 redirects")


def test_crit_connection_reset_mid_body(serve):
    code, line, where = run_with_fault(serve, cluster(now_ms()), "^/_snapshot/backups",
                                       Override(200, b'{"snapshots": [', reset=True))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - cannot list snapshots at {where}: "
                               "the connection broke off in the middle of the answer")


def test_unknown_oversized_body_is_refused(serve, no_proxy_in_environ):
    """A gzip bomb: 100 MiB of spaces in 100 KB on the wire."""
    bomb = gzip.compress(b" " * (100 * 2**20), compresslevel=9)
    c = cluster(now_ms())
    c.overrides.append(("^/_snapshot/backups", Override(200, bomb, headers={"Content-Encoding": "gzip"})))
    server = serve(c)
    code, out, err = main_over_http("--url", server.url, "-t", "20")
    assert err == ""
    assert (code, first_line(out)) == (3, f"ES_SNAPSHOT UNKNOWN - list snapshots at {server.url[7:]}: "
                                          "answer larger than 96 MiB, refused")


def test_crit_retry_after_too_long(inproc):
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot$",
                                       Override(503, b'{"error":"busy"}', headers={"Retry-After": "60"}))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - HTTP 503 from {where} for list repositories: busy "
                               "(Retry-After 1m does not fit in -t)")


def test_ok_retry_after_that_fits(inproc):
    waited = []
    with mock.patch.object(time, "sleep", waited.append):  # the plugin's wait, not the test's
        code, line, _ = run_with_fault(inproc, cluster(), "^/_snapshot$",
                                       Override(429, b"{}", headers={"Retry-After": "1"}, times=1))
    assert (code, line) == (0, OK_LINE)
    assert waited == [1.0]


# -- the canary: no secret in any output, on any path, at -vvv -----------------

PATHS = {
    "ok": lambda c: None,
    "401": lambda c: c.auth.update(user="monitor", password="another"),
    "403": lambda c: c.overrides.append(("^/_snapshot", Override(403, b'{"error":"forbidden"}'))),
    "500": lambda c: c.overrides.append(("^/_snapshot/", Override(500, b"<html>" + CANARY.encode() + b"</html>"))),
    "bad-json": lambda c: c.overrides.append(("^/_snapshot$", Override(200, b"{" + CANARY.encode()))),
    "echoing-error": lambda c: c.overrides.append(("^/_snapshot$", Override(400, (
        '{"error":{"type":"x","reason":"bad header Basic %s"}}' % CANARY).encode()))),
    "redirect": lambda c: c.overrides.append(("^/_snapshot$", Override(302, b"", headers={"Location": "http://localhost:9/"}))),
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("how", ["env", "url", "argv", "api-key", "bearer-file"])
def test_canary_never_printed(inproc, path, how, tmp_path):
    canary_run(inproc, path, how, tmp_path)


@pytest.mark.parametrize("how", ["env", "url", "argv", "api-key", "bearer-file"])
def test_canary_never_printed_by_the_script(serve, how, tmp_path):
    """The real script, following a redirect to a real closed port."""
    canary_run(serve, "redirect", how, tmp_path)


def canary_run(serve, path, how, tmp_path):
    c = cluster(auth={"user": "monitor", "password": CANARY})
    PATHS[path](c)
    server = serve(c)
    args, env = ["-vvv"], {}
    if how == "env":
        args += ["--url", server.url, "--user", "monitor"]
        env = {"ES_PASSWORD": CANARY}
    elif how == "url":
        args += ["--url", server.url.replace("http://", f"http://monitor:{CANARY}@")]
    elif how == "argv":
        args += ["--url", server.url, "--user", "monitor", "--password", CANARY]
    elif how == "api-key":
        args += ["--url", server.url]
        env = {"ES_API_KEY": f"key-id:{CANARY}"}
    else:
        args += ["--url", server.url, "--bearer-token-file", secret_file(tmp_path, CANARY)]
    code, out, err = runner(server)(*args, env=env)
    encoded = {base64.b64encode(f"{who}:{CANARY}".encode()).decode() for who in ("monitor", "key-id")}
    assert code in (0, 1, 2, 3)
    assert CANARY not in out + err and not any(e in out + err for e in encoded)


def test_canary_not_printed_on_connection_refused(no_proxy_in_environ):
    code, out, err = main_over_http("--url", f"http://monitor:{CANARY}@127.0.0.1:9", "-vvv")
    assert code == 2 and CANARY not in out + err


# -- proxies ---------------------------------------------------------------------

def test_environment_proxy_is_used_and_no_proxy_ignores_it(serve):
    """A proxy meant for other traffic (here: nothing listens) must not break the check."""
    server = serve(cluster(now_ms()))
    proxy = {"http_proxy": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    code, out, _ = run_check("--url", server.url, env=proxy)
    assert (code, first_line(out)) == (2, f"ES_SNAPSHOT CRITICAL - cannot list repositories at "
                                          f"{server.url[7:]}: the proxy from the environment failed "
                                          "(connection refused; --no-proxy ignores it)")
    assert not server.cluster.log, "the request went through the proxy, not straight to the cluster"
    code, out, _ = run_check("--url", server.url, "--no-proxy", env=proxy)
    assert (code, first_line(out)) == (0, OK_LINE)


def test_api_key_given_as_id_and_key_is_redacted_whole():
    """The longest secret first: redacting the key part alone would print its id."""
    settings = parse_settings([], environ={"ES_API_KEY": f"key-id:{CANARY}"})
    redact = Redactor(settings.secrets)
    assert redact(f"rejected key-id:{CANARY}, then {CANARY}") == "rejected ***, then ***"


# -- every form a secret takes, redacted before anything is cut ----------------------------

def echoing(reason, status=500, path="^/$"):
    """A cluster whose first answer echoes ``reason`` in an error body."""
    c = cluster()
    body = ('{"error": {"type": "x", "reason": "%s"}, "status": %d}' % (reason, status)).encode()
    c.overrides.append((path, Override(status, body)))
    return c


def test_canary_straddling_the_vvv_body_excerpt_is_not_printed(inproc):
    """The -vvv excerpt was cut at 512 bytes before redaction; with the blanks
    collapsed, the canary's first 13 characters were printed."""
    c = cluster(auth={"user": "monitor", "password": CANARY})
    body = b'{"pad": "' + b" " * 490 + CANARY.encode() + b'"}'
    c.overrides.append(("^/$", Override(200, body)))
    server = inproc(c)
    code, out, err = inproc.run("--url", server.url, "--user", "monitor", "-vvv", env={"ES_PASSWORD": CANARY})
    assert "response body starts" in out
    assert CANARY[:6] not in out + err


def test_encoded_api_key_decoded_and_key_alone_are_redacted(inproc):
    encoded = base64.b64encode(f"key-id:{CANARY}".encode()).decode()
    server = inproc(echoing(f"bad key [key-id:{CANARY}] [{CANARY}] [{encoded}]"))
    code, out, err = inproc.run("--url", server.url, "-vv", env={"ES_API_KEY": encoded})
    assert code == 2 and "bad key [***] [***] [***]" in out
    assert CANARY not in out + err and encoded not in out + err


PASSWORD = "p:/&+<>" + CANARY


@pytest.mark.parametrize("form", [
    "p%3a%2f%26%2b%3c%3e" + CANARY, "p%3A%2F%26%2B%3C%3E" + CANARY,  # percent-encoded, both cases
    "p:/&amp;+&lt;&gt;" + CANARY,                                     # HTML-escaped
    base64.b64encode(PASSWORD.encode()).decode(), base64.urlsafe_b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"monitor:{PASSWORD}".encode()).decode().rstrip("="),
    base64.urlsafe_b64encode(f"monitor:{PASSWORD}".encode()).decode(), f"monitor:{PASSWORD}",
])
def test_password_forms_a_proxy_echoes_are_redacted(inproc, form):
    server = inproc(echoing(f"denied [{form}]"))
    code, out, err = inproc.run("--url", server.url, "--user", "monitor", "-vvv", env={"ES_PASSWORD": PASSWORD})
    assert code == 2
    assert "denied [***]" in out and CANARY not in out + err
