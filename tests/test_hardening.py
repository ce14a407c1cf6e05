"""Hardening, round two (issue 11): what a hostile cluster, network or
environment used to break, each shaped after its reproduction.

Name resolution, the deadline and its supervisor, memory, TLS, what requests
could read from the process environment (proxies, .netrc, CA bundles),
stdout and Ctrl-C run the real script; bodies, numbers, redaction and usage
errors run cli.main in-process (tests/incheck.py)."""
import base64
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from plugin.credentials import Redactor
from plugin.options import UsageError, parse_settings
from plugin import wording
from tests.conftest import NOW_MS, ROOT, SCRIPT, first_line, now_ms, run_check, run_with_fault
from tests.fake_es import HOUR_MS, Cluster, Override, Snap
from tests.incheck import main_with

CANARY = "canary-s3cret-7f3a"
OK_LINE = "ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo backups)"


def cluster(now=NOW_MS, **kw):
    """One success an hour before ``now`` (pass now_ms() for the script as a subprocess)."""
    return Cluster("es8", {"backups": [Snap("s1", "SUCCESS", now - HOUR_MS)]}, **kw)


def timed(run, *args):
    """``run(*args)`` (run_check or main_with({}, ...)) and the seconds it took."""
    started = time.monotonic()
    code, out, err = run(*args)
    return code, out, err, time.monotonic() - started


# -- 1. name resolution is inside -t --------------------------------------------

def _can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode == 0


@pytest.fixture
def silent_resolver(tmp_path):
    """A resolv.conf naming a UDP resolver on 127.0.0.77 that never answers.

    The socket is bound and never read: queries queue in the kernel and no
    answer comes.  Only processes that see the private resolv.conf (in their
    own mount namespace, below) ask it; the machine's resolver is untouched.
    """
    resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        resolver.bind(("127.0.0.77", 53))
    except OSError as exc:
        resolver.close()
        pytest.skip(f"cannot bind a resolver on 127.0.0.77:53 ({exc})")
    conf = tmp_path / "resolv.conf"
    # glibc retries 3 x 5 s per address family: 15 s before this fix with -t 5.
    conf.write_text("nameserver 127.0.0.77\noptions timeout:5 attempts:3\n")
    yield conf
    resolver.close()


@pytest.mark.skipif(not _can_unshare(), reason="needs root and unshare --mount (util-linux)")
def test_unknown_within_t_when_resolver_never_answers(silent_resolver):
    inner = (f"mount --bind {silent_resolver} /etc/resolv.conf && "
             f'exec "{sys.executable}" "{SCRIPT}" --url https://es.example.internal:9200 -t 2')
    started = time.monotonic()
    result = subprocess.run(["unshare", "--mount", "sh", "-c", inner], capture_output=True, text=True,
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}, timeout=60,
                            stdin=subprocess.DEVNULL)
    elapsed = time.monotonic() - started
    assert (result.returncode, result.stdout, result.stderr) == (
        3, "ES_SNAPSHOT UNKNOWN - plugin timed out after 2s (-t)\n", "")
    # -t counts from the start of the process; unshare and mount add a little.
    # (The issue's -t 5 ran 10.7 s; -t 2 proves the same against the
    # resolver's 5 s per try in 2 s.)
    assert elapsed < 2.6


# -- 2. the last alarm always wins ---------------------------------------------

def test_unknown_at_t_while_c_code_holds_the_interpreter(tmp_path):
    """The run blocked in C with the GIL held (as a json.loads of a huge body
    or freeing a huge object would): the supervisor still answers at -t."""
    hook = tmp_path / "sitecustomize.py"
    unwound = tmp_path / "unwound"
    # sum() over a range loops in C without ever running a signal handler,
    # as a huge json.loads does (re.match would not do: sre checks signals).
    # Had anything in the child interrupted it, the finally would leave a mark.
    hook.write_text(
        "import plugin.client as c\n"
        "def stuck(self, *a, **k):\n"
        "    try:\n"
        "        sum(range(10 ** 15))\n"
        "    finally:\n"
        f"        open({str(unwound)!r}, 'w').close()\n"
        "c.EsClient.get = stuck\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, str(SCRIPT), "-t", "2", "--url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    elapsed = time.monotonic() - started
    assert (result.returncode, result.stdout, result.stderr) == (
        3, "ES_SNAPSHOT UNKNOWN - plugin timed out after 2s (-t)\n", "")
    # The child's own alarm (at 1.6 s) could not run: the supervisor killed it
    # at -t (counted from process start, so a loaded host's slow interpreter
    # start-up shortens what the test measures a little).
    assert not unwound.exists()
    assert 1.4 < elapsed < 2.6


def test_json_document_at_t_when_stuck(tmp_path):
    hook = tmp_path / "sitecustomize.py"
    hook.write_text("import plugin.client as c\n"
                    "c.EsClient.get = lambda self, *a, **k: sum(range(10 ** 15))\n")
    result = subprocess.run([sys.executable, str(SCRIPT), "-t", "1", "--format", "json"],
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    document = json.loads(result.stdout)
    assert (result.returncode, document["state"], document["summary"]) == (
        3, "UNKNOWN", "plugin timed out after 1s (-t)")


def test_unknown_when_check_is_killed_by_the_kernel(tmp_path):
    hook = tmp_path / "sitecustomize.py"
    hook.write_text("import os, signal, plugin.client as c\n"
                    "c.EsClient.get = lambda self, *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n")
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60,
                            stdin=subprocess.DEVNULL,
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert (result.returncode, result.stdout) == (
        3, "ES_SNAPSHOT UNKNOWN - internal error: the check was killed by signal 9 (out of memory?)\n")


# -- redaction at the output boundary (item 8) ------------------------------------

def test_redactor_replaces_api_key_whole_not_only_its_key():
    """Longest first: ``id:key`` must not print as ``id:***`` (mutation survivor)."""
    redact = Redactor(["key-id:" + CANARY, CANARY])
    assert redact(f"echo key-id:{CANARY} and {CANARY}") == "echo *** and ***"
    redact = Redactor([CANARY, "key-id:" + CANARY])  # order given must not matter
    assert redact(f"key-id:{CANARY}") == "***"
    # One secret the start of another: shortest first would print "***-and-more".
    redact = Redactor([CANARY, CANARY + "-and-more"])
    assert redact(f"<{CANARY}-and-more> <{CANARY}>") == "<***> <***>"


def test_redactor_leaves_own_request_paths_of_a_weak_secret():
    redact = Redactor(["snapshot"])
    text = "GET /_snapshot/backups/* -> ES_SNAPSHOT OK - no snapshot"
    assert redact(text) == text


def test_redactor_catches_escaped_and_encoded_forms():
    secret = 'pa"ss  wo\\rd/é,*'
    redact = Redactor([secret])
    forms = [secret, 'pa"ss wo\\rd/é,*', json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             "pa%22ss%20%20wo%5Crd%2F%C3%A9%2C%2A", "pa%22ss%20%20wo%5Crd%2F%C3%A9,*",
             "pa_ss__wo_rd/é,*", "pa_ss__wo_rd/%C3%A9,*"]  # wording.clean's forms, UTF-8 and C locales
    for form in forms:
        assert redact(f"<{form}>") == "<***>", form
    assert redact.longest == max(len(f) for f in forms)
    assert Redactor([])("text") == "text" and Redactor([]).longest == 0


def test_cluster_text_is_redacted_before_it_is_cut():
    """A reason cut at 40 characters must not keep half a secret."""
    wording.use_redactor(Redactor([CANARY]))
    try:
        text = "x" * 30 + CANARY + " tail"
        assert CANARY[:8] not in wording.clean_reason(text, 40)
        assert CANARY[:8] not in wording.clean(text, 40)
        # a secret straddling the pre-cut of a huge reason is dropped, not halved
        huge = "y" * (wording.PRE_CUT - 5) + CANARY + "z" * 10**6
        assert CANARY[:5] not in wording.clean_reason(huge, 10**5)
    finally:
        wording.use_redactor(str)


# -- 3. bounded work on hostile bodies -----------------------------------------------

def _peak_rss_kb(args, env=None):
    """(exit code, first line, peak RSS in KB of the check and its children)."""
    wrapper = ("import resource, subprocess, sys\n"
               "r = subprocess.run(sys.argv[1:], capture_output=True, text=True, stdin=subprocess.DEVNULL)\n"
               "print(r.returncode); print(r.stdout.splitlines()[0] if r.stdout else '')\n"
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    result = subprocess.run([sys.executable, "-c", wrapper, sys.executable, str(SCRIPT), *args],
                            capture_output=True, text=True, timeout=120,
                            env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **(env or {})})
    code, line, rss = result.stdout.splitlines()
    return int(code), line.split(" | ")[0], int(rss)


def test_unknown_quickly_and_small_for_gzip_bomb_of_empty_objects(serve):
    """97 KB on the wire, 95 MiB of [{},{},...] inflated: 2.6 GB and a traceback before."""
    bomb = gzip.compress(b"[" + b"{}," * (95 * 2**20 // 3) + b"{}]", compresslevel=9)
    assert len(bomb) < 200_000
    c = cluster(now_ms())
    c.overrides.append(("^/_snapshot/backups", Override(200, bomb, headers={"Content-Encoding": "gzip"})))
    server = serve(c)
    started = time.monotonic()
    code, line, rss_kb = _peak_rss_kb(["--url", server.url, "-t", "10"])
    assert (code, line) == (3, f"ES_SNAPSHOT UNKNOWN - list snapshots at {server.url[7:]}: HTTP 200 "
                               "with a JSON array where an object is due, refused")
    assert rss_kb < 200 * 1024 and time.monotonic() - started < 10


def test_unknown_for_millions_of_objects_inside_an_object(inproc):
    body = b'{"snapshots":[' + b"{}," * 1_200_000 + b"{}]}"
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot/backups", Override(200, body))
    assert (code, line) == (3, f"ES_SNAPSHOT UNKNOWN - list snapshots at {where}: answer with more than "
                               "1,048,576 JSON objects, refused")


# -- 4. strings are cut before they are cleaned; output stays bounded -----------------

def test_crit_huge_failure_reason_costs_milliseconds():
    reason = ("disk full " * 9_000_000)  # 90 MB
    started = time.monotonic()
    text = wording.clean_reason(reason, 120)
    assert time.monotonic() - started < 0.5
    assert text.startswith("disk full disk full") and len(text) == 120


def _snap_body(name="s1", reason="", extra=None, start=None):
    snap = {"snapshot": name, "repository": "backups", "state": "FAILED" if reason else "SUCCESS",
            "start_time_in_millis": start if start is not None else NOW_MS - HOUR_MS,
            "end_time_in_millis": NOW_MS - HOUR_MS + 60000, "duration_in_millis": 60000,
            "shards": {"total": 1, "failed": 0, "successful": 1}, "reason": reason, "failures": []}
    snap.update(extra or {})
    return json.dumps({"snapshots": [snap], "total": 1, "remaining": 0}).encode()


@pytest.mark.parametrize("fmt, limit", [("nagios", 8192), ("json", 64 * 1024)])
def test_output_bounded_with_huge_names_and_reasons(inproc, fmt, limit):
    shard_failures = [{"index": "i" * 5000, "shard_id": n, "reason": "r" * 50000} for n in range(200)]
    body = _snap_body("n" * 50000, "x " * 50000, {"failures": shard_failures})
    c = cluster()
    # The listing only: _current answering a completed snapshot is refused.
    c.overrides.append(("^/_snapshot/backups/(?!_current)", Override(200, body)))
    server = inproc(c)
    code, out, err = server.run("--url", server.url, "-vvv", "--format", fmt)
    assert code == 2 and err == ""
    assert len(out.encode()) < limit
    if fmt == "json":
        document = json.loads(out)
        assert document["state"] == "CRITICAL"
        assert len(document["repositories"][0]["newest"]["name"]) <= 256


def test_unknown_perfdata_number_of_4200_digits(inproc):
    body = _snap_body(extra={"duration_in_millis": int("9" * 4200)})
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot/backups", Override(200, body))
    assert (code, line) == (3, "ES_SNAPSHOT UNKNOWN - unexpected answer from the cluster: snapshot 's1': "
                               "field 'duration_in_millis' is out of range (99999999999999999999...)")


# -- 5. numbers --------------------------------------------------------------------

@pytest.mark.parametrize("field, value, words", [
    ("start_time_in_millis", 253402300800000, "field 'start_time_in_millis' is out of range"),
    ("start_time_in_millis", -1, "field 'start_time_in_millis' is out of range"),
    ("end_time_in_millis", 10**17, "field 'end_time_in_millis' is out of range"),
    ("start_time_in_millis", "NaN", "field 'start_time_in_millis' is out of range (NaN)"),
    ("duration_in_millis", "Infinity", "field 'duration_in_millis' is out of range (Infinity)"),
    ("start_time_in_millis", 1e300, "field 'start_time_in_millis' is out of range"),
    ("index_details", {"i": {"size_in_bytes": 2**64}}, "field 'size_in_bytes' is out of range"),
    # Each in range, their sum not (hypothesis found 2 + 2 x (2^63-1) in perfdata).
    ("index_details", {"i": {"size_in_bytes": 2**63 - 1}, "j": {"size_in_bytes": 1}},
     "field 'size_in_bytes' is out of range (the indices add up to 2^63 bytes or more)"),
])
@pytest.mark.parametrize("verbosity", [[], ["-vvv"], ["--format", "json"]])
def test_unknown_number_out_of_range_names_the_field(inproc, field, value, words, verbosity):
    body = _snap_body(extra={field: value})
    if value in ("NaN", "Infinity"):
        body = body.replace(f'"{value}"'.encode(), value.encode())
    c = cluster()
    c.overrides.append(("^/_snapshot/backups", Override(200, body)))
    server = inproc(c)
    code, out, err = server.run("--url", server.url, *verbosity)
    assert (code, err) == (3, "")
    text = json.loads(out)["summary"] if verbosity[:1] == ["--format"] else first_line(out)
    assert words in text and "Traceback" not in out


@pytest.mark.parametrize("body", [b'{"error":' + b"9" * 5000 + b"}", b"[" * 10,
                                  b'{"error":{"type":"x","reason":NaN}}', b"\x00" * 100])
def test_crit_503_whatever_its_body(inproc, body):
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot$", Override(503, body))
    assert code == 2 and line.startswith(f"ES_SNAPSHOT CRITICAL - HTTP 503 from {where}")


def test_crit_503_with_null_reason_names_the_error_type(inproc):
    body = json.dumps({"error": {"root_cause": [], "type": "master_not_discovered_exception",
                                 "reason": None}, "status": 503}).encode()
    code, line, where = run_with_fault(inproc, cluster(), "^/_snapshot$", Override(503, body))
    assert (code, line) == (2, f"ES_SNAPSHOT CRITICAL - HTTP 503 from {where} for list repositories: "
                               "master_not_discovered_exception")


@pytest.mark.parametrize("value", ["\u00b2", "\u0661", "1e3", "-1", "9" * 40])
def test_retry_after_takes_only_ascii_digits(value):
    from plugin.client import retry_after
    assert retry_after(503, {"Retry-After": value}) is None
    assert retry_after(503, {"Retry-After": "7"}) == 7.0


# -- 6, 7. trust and credentials come from the command line ----------------------

def test_crit_ca_cert_wins_over_requests_ca_bundle(serve, pki):
    """Before: the variable's bundle verified the self-signed server, --ca-cert bypassed."""
    from tests.pki import server_context
    server = serve(cluster(now_ms()), tls=server_context(pki.selfsigned))
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        code, out, err = run_check("--url", server.url, "--ca-cert", str(pki.ca),
                                   env={variable: str(pki.selfsigned[0])})
        assert (code, err) == (2, "")
        assert "TLS certificate verification failed (self-signed certificate)" in first_line(out)


def test_ok_insecure_wins_over_requests_ca_bundle(serve, pki):
    """Before: --insecure was ignored once REQUESTS_CA_BUNDLE was set."""
    from tests.pki import server_context
    server = serve(cluster(now_ms()), tls=server_context(pki.selfsigned))
    code, out, _ = run_check("--url", server.url, "--insecure", env={"REQUESTS_CA_BUNDLE": str(pki.ca)})
    assert (code, first_line(out)) == (0, OK_LINE)


def test_ok_netrc_is_never_consulted(serve, tmp_path):
    server = serve(cluster(now_ms()))
    (tmp_path / ".netrc").write_text(f"machine 127.0.0.1 login monitor password {CANARY}\n")
    os.chmod(tmp_path / ".netrc", 0o600)
    code, out, _ = run_check("--url", server.url, env={"HOME": str(tmp_path)})
    assert (code, first_line(out)) == (0, OK_LINE)
    assert not any(entry["authorization"] for entry in server.cluster.log)
    (tmp_path / ".netrc").write_text("machine 127.0.0.1 login\n\"unterminated")
    assert run_check("--url", server.url, env={"HOME": str(tmp_path), "NETRC": str(tmp_path / ".netrc")})[0] == 0


def test_ok_through_environment_proxy(serve):
    """The fake cluster answers absolute-form requests too: it serves as the proxy."""
    proxy = serve(cluster(now_ms()))
    code, out, _ = run_check("--url", "http://127.0.0.1:9", env={"http_proxy": proxy.url})
    assert (code, first_line(out)) == (0, OK_LINE)
    assert all(entry["path"].startswith("http://127.0.0.1:9/") for entry in proxy.cluster.log)
    code, out, _ = run_check("--url", "http://127.0.0.1:9", "--no-proxy", env={"http_proxy": proxy.url})
    assert code == 2 and "connection refused" in out


@pytest.mark.parametrize("value", ["http://[::1", "http://proxy:99999", "ftp://proxy:21", "http://pr oxy"])
def test_unknown_malformed_proxy_variable_is_named(serve, value):
    server = serve(cluster(now_ms()))
    code, out, err = run_check("--url", server.url, env={"https_proxy": value, "http_proxy": value})
    assert (code, err) == (3, "")
    assert first_line(out) == ("ES_SNAPSHOT UNKNOWN - the proxy variable http_proxy is not a valid proxy URL "
                               "(fix it, or --no-proxy ignores it)")
    assert run_check("--url", server.url, "--no-proxy", env={"http_proxy": value})[0] == 0


# -- 8. everything on stdout is redacted, cluster text included ---------------------

@pytest.mark.parametrize("args", [[], ["-v"], ["-vvv"], ["--format", "json"], ["--format", "json", "-vvv"]])
def test_echoed_password_never_printed(inproc, args):
    c = Cluster("es8", {"backups": [
        Snap(f"nightly-{CANARY}", "FAILED", NOW_MS - HOUR_MS, reason=f"x{CANARY}y " * 3, shards_failed=1),
        Snap("s0", "SUCCESS", NOW_MS - 2 * HOUR_MS)]}, auth={"user": "monitor", "password": CANARY})
    c.repositories["backups"][0].reason = f"cannot write: header was Basic monitor:{CANARY}"
    server = inproc(c)
    code, out, err = server.run("--url", server.url, "--user", "monitor", *args, env={"ES_PASSWORD": CANARY})
    assert code == 2 and err == ""
    assert CANARY not in out and CANARY[:10] not in out and "***" in out


def test_weak_password_does_not_mangle_own_paths(inproc):
    server = inproc(cluster(auth={"user": "monitor", "password": "snapshot"}))
    code, out, _ = server.run("--url", server.url, "--user", "monitor", "-vv", env={"ES_PASSWORD": "snapshot"})
    assert (code, first_line(out)) == (0, OK_LINE)
    assert "GET /_snapshot -> HTTP 200" in out and "***" not in out


# -- 9. no abbreviations, no secret in usage errors ----------------------------------

@pytest.mark.parametrize("args, message", [
    (["--pass=" + CANARY], "unrecognized arguments: --pass"),
    (["--u=" + CANARY], "unrecognized arguments: --u"),
    (["--url", f"http://monitor:{CANARY}@[::1"], "--url is not a valid URL (http(s)://host[:port][/prefix])"),
    (["--url", f"http://monitor:{CANARY}@127.0.0.1:99999"], "--url is not a valid URL (http(s)://host[:port][/prefix])"),
    (["--url", f"ftp://monitor:{CANARY}@host"], "--url must be http(s)://host[:port][/prefix], not ftp://..."),
    ([CANARY], "unrecognized arguments: and 1 value(s), not shown"),
    (["--password", CANARY, "--format", CANARY], "argument --format: invalid choice: '***' "
                                                  "(choose from 'nagios', 'json', 'openmetrics')"),
])
def test_usage_error_never_repeats_a_secret(args, message):
    code, out, err = main_with({}, *args)
    assert (code, err) == (3, "")
    assert first_line(out) == f"ES_SNAPSHOT UNKNOWN - usage: {message}"
    assert CANARY not in out


# -- 10. secret files: regular, small, read without blocking ---------------------------

@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dev-stdin", "huge", "directory"])
def test_unknown_usage_for_secret_file_that_is_no_small_regular_file(tmp_path, kind):
    path = tmp_path / "secret"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge":
        path.write_text("x" * (65 * 1024))
    elif kind == "directory":
        path.mkdir()
    else:
        path = {"dev-zero": "/dev/zero", "dev-stdin": "/dev/stdin"}[kind]
    # /dev/stdin is the process's own: the script's (stdin=DEVNULL) is known,
    # pytest's is whatever it was started with.
    run = run_check if kind == "dev-stdin" else lambda *args: main_with({}, *args)
    code, out, _, elapsed = timed(run, "--user", "monitor", "--password-file", str(path), "-t", "5")
    assert code == 3 and elapsed < 4
    assert first_line(out).startswith(f"ES_SNAPSHOT UNKNOWN - usage: password file {path} ")
    assert ("not a regular file" in out) or ("larger than 64 KB" in out) or ("Is a directory" in out)


# -- 11. mistakes in -H and --url are usage errors ----------------------------------

@pytest.mark.parametrize("args, message", [
    (["-H", "127.0.0.1:9200"], "-H takes a host name or IP address, without a scheme or port "
                               "(use -P for the port, --url for the scheme)"),
    (["-H", "http://host"], "-H takes a host name or IP address, without a scheme or port "
                            "(use -P for the port, --url for the scheme)"),
    (["-H", "es node"], "-H takes a host name or IP address, not 'es node'"),
    (["-H", "host/path"], "-H takes a host name or IP address, not 'host/path'"),
    (["--url", "http://[::1"], "--url is not a valid URL (http(s)://host[:port][/prefix])"),
])
def test_unknown_usage_for_malformed_host(args, message):
    code, out, err = main_with({}, *args)
    assert (code, first_line(out), err) == (3, f"ES_SNAPSHOT UNKNOWN - usage: {message}", "")


@pytest.mark.parametrize("host, url", [("::1", "http://[::1]:9200"), ("[::1]", "http://[::1]:9200"),
                                       ("fe80::1", "http://[fe80::1]:9200"), ("es-1.example", "http://es-1.example:9200")])
def test_hostname_ipv6_literal_is_bracketed(host, url):
    from plugin.options import parse_settings
    assert parse_settings(["-H", host], environ={}).base_url == url


# -- 12. proxies, keys, tokens, stdout --------------------------------------------------

def test_unknown_usage_for_encrypted_client_key(pki, tmp_path):
    cert, key = pki.client
    encrypted = tmp_path / "client.key"
    subprocess.run(["openssl", "pkey", "-in", str(key), "-aes256", "-passout", "pass:x", "-out", str(encrypted)],
                   check=True, capture_output=True)
    code, out, _ = main_with({}, "--client-cert", str(cert), "--client-key", str(encrypted))
    assert (code, first_line(out)) == (3, f"ES_SNAPSHOT UNKNOWN - usage: the key in {encrypted} is encrypted: "
                                          "give an unencrypted key (openssl pkey -in KEY -out PLAIN), "
                                          "readable only by the monitoring user")


@pytest.mark.parametrize("env, what", [({"ES_BEARER_TOKEN": "abc\x01def"}, "the bearer token"),
                                       ({"ES_API_KEY": "id:k\x7fey"}, "the API key"),
                                       ({"ES_PASSWORD": "pw\x1b[2J"}, "the password")])
def test_unknown_usage_for_control_character_in_secret(env, what):
    args = ["--user", "monitor"] if "ES_PASSWORD" in env else []
    code, out, _ = main_with({}, *args, env=env)
    assert (code, first_line(out)) == (3, f"ES_SNAPSHOT UNKNOWN - usage: {what} contains a control character")


def test_exit_3_when_stdout_cannot_be_written(serve):
    server = serve(cluster(now_ms()))
    with open("/dev/full", "w") as full:
        result = subprocess.run([sys.executable, str(SCRIPT), "--url", server.url], stdout=full,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=60,
                                env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)})
    assert (result.returncode, result.stderr) == (3, b"")


def test_ascii_only_stdout_still_prints(serve, tmp_path):
    server = serve(cluster(now_ms(), auth={"user": "monitor", "password": CANARY}))
    path = tmp_path / "pässwort"
    path.write_text(CANARY)
    os.chmod(path, 0o644)  # a note naming the non-ASCII path
    code, out, err = run_check("--url", server.url, "--user", "monitor", "--password-file", str(path), "-v",
                               env={"PYTHONIOENCODING": "ascii", "LC_ALL": "C"})
    assert (code, first_line(out), err) == (0, OK_LINE, "")
    assert "readable by other users" in out


# -- 13, 14, 15. the listing: fallback, dot names, long repository lists ----------------

def test_ok_fallback_for_unrecognized_parameter_with_long_reason(inproc):
    c = Cluster("es7.17", {"backups": [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    reason = ("request [/_snapshot/" + ",".join(f"repository-with-a-long-name-{n}" for n in range(4))
              + "/*] contains unrecognized parameter: [from_sort_value]")
    assert len(reason) > 160
    body = json.dumps({"error": {"type": "illegal_argument_exception", "reason": reason}, "status": 400})
    c.overrides.append(("^/_snapshot/backups/", Override(400, body.encode(), times=1)))
    server = inproc(c)
    code, out, _ = server.run("--url", server.url)
    assert (code, first_line(out)) == (0, OK_LINE)


@pytest.mark.parametrize("name", ["..", "."])
def test_ok_repository_named_dot_stays_inside_the_url_prefix(inproc, name):
    c = Cluster("es8", {name: [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)]})
    server = inproc(c)
    code, out, _ = server.run("--url", server.url, "-r", name)
    assert (code, first_line(out)) == (0, f"ES_SNAPSHOT OK - s1 SUCCESS, 1h old (repo {name})")
    # "target": the request target as sent, which fake_es.Server logs as "path"
    listing = [e["target"] for e in c.log if e["target"].startswith("/_snapshot/")]
    assert listing and all(p.startswith("/_snapshot/" + "%2E" * len(name) + "/") for p in listing)


def test_ok_many_repositories_split_into_short_request_lines(inproc):
    names = [f"backup-repository-of-tenant-{n:04d}-with-a-long-name" for n in range(300)]
    c = Cluster("es8", {name: [Snap("s1", "SUCCESS", NOW_MS - HOUR_MS)] for name in names})
    server = inproc(c)
    code, out, _ = server.run("--url", server.url, "-t", "20")
    assert code == 0 and first_line(out).endswith("; 300 repositories OK")
    lines = [len(f"GET {e['target']} HTTP/1.1") for e in c.log]
    assert max(lines) <= 4096 and len(c.log) > 3


# -- issue 10 items 13 and 14: credential mistakes, Ctrl-C ----------------------------

def test_unknown_usage_user_without_password_names_the_sources():
    code, out, _ = main_with({}, "--user", "monitor")
    assert (code, first_line(out)) == (3, "ES_SNAPSHOT UNKNOWN - usage: --user monitor needs a password: "
                                          "set $ES_PASSWORD or give --password-file FILE")


def test_ok_stray_es_password_next_to_api_key_is_noted(inproc):
    encoded = base64.b64encode(f"key-id:{CANARY}".encode()).decode()
    server = inproc(cluster(auth={"api_key": encoded}))
    code, out, _ = server.run("--url", server.url, "-v", env={"ES_API_KEY": encoded, "ES_PASSWORD": "other"})
    assert (code, first_line(out)) == (0, OK_LINE)
    assert "note: $ES_PASSWORD is set but ignored: an API key or bearer token is used" in out.splitlines()


def test_unknown_one_line_on_ctrl_c(serve):
    c = cluster(now_ms())
    c.overrides.append(("^/_snapshot$", Override(200, b"{}", delay_s=20)))
    server = serve(c)
    process = subprocess.Popen([sys.executable, str(SCRIPT), "--url", server.url, "-t", "30"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                               env={"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}, start_new_session=True)
    deadline = time.monotonic() + 20
    while not c.log and time.monotonic() < deadline:  # the request is out: the run is under way
        time.sleep(0.05)
    os.killpg(process.pid, 2)  # what a shell's Ctrl-C does: SIGINT to the whole group
    out, err = process.communicate(timeout=20)
    assert (process.returncode, out, err) == (3, b"ES_SNAPSHOT UNKNOWN - interrupted (Ctrl-C or SIGINT)\n", b"")


# -- credentials.py: every form a secret takes is registered (mutation survivors) ---------

class _Options:
    def __init__(self, **kw):
        self.__dict__.update(dict(api_key_file=None, bearer_token_file=None, user=None,
                                  password_file=None, password=None), **kw)


@pytest.mark.parametrize("argv, env, expected", [
    (["--password", CANARY], {}, [CANARY]),
    (["--password=" + CANARY], {}, [CANARY]),
    (["--password"], {}, []),
    (["--url", f"http://mon:{CANARY}%2F@h"], {}, [f"{CANARY}%2F", f"{CANARY}/", f"mon:{CANARY}%2F"]),
    (["--url", f"http://:{CANARY}@h"], {}, [CANARY]),
    ([], {"ES_PASSWORD": f" {CANARY} "}, [f" {CANARY} ", CANARY]),
    ([], {"ES_API_KEY": f"kid:{CANARY}"}, [f"kid:{CANARY}", CANARY]),
    ([], {"ES_BEARER_TOKEN": CANARY}, [CANARY]),
])
def test_secrets_in_argv_before_options_are_understood(argv, env, expected):
    from plugin.credentials import secrets_in_argv
    found = secrets_in_argv(argv, env)
    assert sorted(set(found)) == sorted(set(expected)) and "" not in found


def test_stray_es_password_is_ignored_only_next_to_api_key_or_token():
    from plugin.credentials import CredentialError, load_credentials
    for env in ({"ES_API_KEY": "kid:key"}, {"ES_BEARER_TOKEN": "tok"}):
        creds = load_credentials(_Options(), {**env, "ES_PASSWORD": CANARY})
        assert creds.password == "" and creds.notes == (
            "$ES_PASSWORD is set but ignored: an API key or bearer token is used",)
        assert CANARY not in creds.secrets
        with pytest.raises(CredentialError, match="a password was given but no --user"):
            load_credentials(_Options(password="x"), env)
        with pytest.raises(CredentialError, match="give only one of"):
            load_credentials(_Options(user="u"), {**env, "ES_PASSWORD": CANARY})
    assert load_credentials(_Options(), {"ES_API_KEY": "kid:key", "ES_PASSWORD": ""}).notes == ()
    with pytest.raises(CredentialError, match="a password was given but no --user"):
        load_credentials(_Options(), {"ES_PASSWORD": CANARY})


@pytest.mark.parametrize("options, env, words", [
    (_Options(user="monitor"), {}, "--user monitor needs a password: set $ES_PASSWORD or give --password-file FILE"),
    (_Options(user="mon\x00itor"), {"ES_PASSWORD": "p"}, "the user name contains a control character"),
    (_Options(user="monitor"), {"ES_PASSWORD": "p\x7f"}, "the password contains a control character"),
    (_Options(), {"ES_API_KEY": "kid:\x1fkey"}, "the API key contains a control character"),
    (_Options(), {"ES_BEARER_TOKEN": "t\nok"}, "the bearer token contains a control character"),
])
def test_credential_mistakes_are_named(options, env, words):
    from plugin.credentials import CredentialError, load_credentials
    with pytest.raises(CredentialError) as error:
        load_credentials(options, env)
    assert str(error.value) == words
    assert load_credentials(_Options(user="monitor"), {"ES_PASSWORD": "p ~"}).password == "p ~"

def _printed(creds, text):
    return Redactor(creds.secrets)(text)


@pytest.mark.parametrize("given", [f"key-id:{CANARY}", base64.b64encode(f"key-id:{CANARY}".encode()).decode()])
def test_api_key_in_every_form_is_secret(given):
    from plugin.credentials import load_credentials
    creds = load_credentials(_Options(), {"ES_API_KEY": f" {given} "})
    encoded = base64.b64encode(f"key-id:{CANARY}".encode()).decode()
    assert creds.authorization == "ApiKey " + encoded
    for form in {given, encoded, creds.authorization}:
        assert "key-id" not in _printed(creds, form) or given == encoded
        assert _printed(creds, form).replace("ApiKey ", "") == "***"
    if ":" in given:
        assert _printed(creds, f"key {CANARY} and id key-id:{CANARY}") == "key *** and id ***"


def test_basic_credentials_in_every_form_are_secret():
    from plugin.credentials import load_credentials
    creds = load_credentials(_Options(user="monitor"), {"ES_PASSWORD": CANARY})
    token = base64.b64encode(f"monitor:{CANARY}".encode()).decode()
    assert creds.authorization == "Basic " + token
    assert _printed(creds, f"{CANARY} Basic {token}") == "*** Basic ***"
    assert creds.notes == () and creds.user == "monitor"


def test_bearer_token_is_secret_and_sent_as_bearer(tmp_path):
    from plugin.credentials import load_credentials
    path = tmp_path / "token"
    path.write_text(CANARY + "\nsecond line\n")
    os.chmod(path, 0o600)
    creds = load_credentials(_Options(bearer_token_file=str(path)), {})
    assert creds.authorization == "Bearer " + CANARY and creds.notes == ()
    assert _printed(creds, f"Bearer {CANARY}") == "Bearer ***"


def test_url_password_percent_encoded_is_secret_in_both_forms():
    from plugin.credentials import load_credentials, split_url_userinfo
    url, user, password = split_url_userinfo(f"https://mon%40itor:{CANARY}%2Fx@es:9200/prefix")
    assert (url, user, password) == ("https://es:9200/prefix", "mon@itor", CANARY + "/x")
    creds = load_credentials(_Options(), {}, user, password)
    printed = _printed(creds, f"{CANARY}/x and {CANARY}%2Fx")
    assert CANARY not in printed


@pytest.mark.parametrize("options, env, words", [
    (_Options(user="u"), {"ES_API_KEY": "a:b", "ES_PASSWORD": "p"}, "give only one of"),
    (_Options(), {"ES_BEARER_TOKEN": "t", "ES_API_KEY": "a:b"}, "give only one of"),
    (_Options(password="p"), {}, "a password was given but no --user"),
])
def test_contradictory_credentials_are_usage_errors(options, env, words):
    from plugin.credentials import CredentialError, load_credentials
    with pytest.raises(CredentialError, match=words):
        load_credentials(options, env)


def test_password_file_wins_over_argument_and_environment(tmp_path):
    from plugin.credentials import load_credentials
    path = tmp_path / "pw"
    path.write_text("from-file\n")
    os.chmod(path, 0o640)
    creds = load_credentials(_Options(user="u", password_file=str(path), password="from-arg"),
                             {"ES_PASSWORD": "from-env"})
    assert creds.password == "from-file"
    assert creds.notes == (f"password file {path} is readable by other users (chmod 600 it)",)
    assert load_credentials(_Options(user="u", password="from-arg"), {"ES_PASSWORD": "e"}).password == "from-arg"


def test_read_secret_file_takes_first_line_of_small_regular_file(tmp_path):
    from plugin.credentials import MAX_SECRET_FILE, CredentialError, read_secret_file
    path = tmp_path / "secret"
    path.write_bytes(CANARY.encode() + b"\r\nsecond\n")
    os.chmod(path, 0o600)
    assert read_secret_file(str(path), "password") == (CANARY, ())
    os.chmod(path, 0o604)
    assert read_secret_file(str(path), "password")[1] == (
        f"password file {path} is readable by other users (chmod 600 it)",)
    path.write_bytes(b"x" * MAX_SECRET_FILE)
    assert read_secret_file(str(path), "password")[0] == "x" * 65536
    for content, words in [(b"x" * (MAX_SECRET_FILE + 1), "is larger than 64 KB"), (b"\n\n", "is empty"),
                           (b"\xff\xfe", "is not UTF-8 text")]:
        path.write_bytes(content)
        with pytest.raises(CredentialError, match=words):
            read_secret_file(str(path), "password")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for special in (str(fifo), "/dev/zero", str(tmp_path)):
        with pytest.raises(CredentialError, match=f"password file {special} is not a regular file"):
            read_secret_file(special, "password")
    with pytest.raises(CredentialError, match="cannot read password file .*: No such file or directory"):
        read_secret_file(str(tmp_path / "missing"), "password")


@pytest.mark.parametrize("argv, expected", [
    (["-t", "5"], (5, "nagios")), (["-t5", "--format=json"], (5, "json")),
    (["--timeout", "1m", "--format", "openmetrics"], (60, "openmetrics")),
    (["--timeout=2"], (2, "nagios")), (["-t", "0"], (10, "nagios")), (["-t", "x"], (10, "nagios")),
    (["-t", "3601"], (10, "nagios")), (["-t"], (10, "nagios")),
    # The parser's own rules: combined short options, ASCII digits only.
    (["-vt15"], (15, "nagios")), (["-vvt", "20", "--format", "json"], (20, "json")),
    (["-t", "\u0661\u0662"], (10, "nagios")), (["-t", "\uff11\uff12"], (10, "nagios")),
    (["--", "-t", "5"], (10, "nagios")), (["--format", "xml", "-t", "7"], (7, "nagios")),
])
def test_supervisor_reads_its_deadline_like_the_parser(argv, expected):
    from plugin.options import peek
    peeked = peek(argv)
    assert (peeked.timeout, peeked.format) == expected


@pytest.mark.parametrize("argv", [["-t", "\u0661\u0662"], ["-P", "\u0669\u0662\u0660\u0660"],
                                  ["--failed-in-last", "\u0663"], ["-w", "\u0661d"],
                                  ["--failed-streak-warning", "\u0662"]])
def test_unknown_digits_other_than_ascii(argv):
    with pytest.raises(UsageError):
        parse_settings(argv, environ={})


def test_supervisor_bounds_output_per_format():
    from plugin.output import bound
    line = b"x" * 99 + b"\n"
    assert bound(line * 80, "nagios") == line * 80  # 8000 bytes: kept whole
    nagios = bound(line * 200, "nagios")
    assert len(nagios) <= 8000 and nagios.endswith(b"\n... output cut (Nagios keeps 8 KB)\n")
    metrics = bound(line * 1000, "openmetrics")
    assert len(metrics) <= 64 * 1024 and metrics.endswith(line) and b"cut" not in metrics
    document = json.loads(bound(b'{"a": "' + b"y" * 70000 + b'"}', "json"))
    assert (document["state"], document["summary"]) == ("UNKNOWN", "output larger than 64 KB")
