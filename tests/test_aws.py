"""--aws-sigv4 against AWS stand-ins on 127.0.0.1 (tests/aws_standins.py).

The stand-in is first held to AWS's published SigV4 test vectors, then the
plugin's signed requests are held to the stand-in.  The plugin runs as the
real script in a process whose environment is isolated (aws_standins.
isolated_env): botocore sees none of this machine's files or credentials and
every AWS endpoint it might call is on 127.0.0.1.
"""
import hashlib
import os
import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest

from plugin.aws import region_from_host
from plugin.options import UsageError, parse_settings
from tests import aws_standins as aws
from tests.conftest import ROOT, run_check
from tests.fake_es import HOUR_MS, Cluster, Server, daily

try:
    import botocore  # noqa: F401 - the test extra brings it (setup.cfg)
except ImportError:  # pragma: no cover - a checkout without the test extra
    if os.environ.get("CI") and sys.version_info >= (3, 10):
        raise  # CI installs '.[test]': a missing botocore is a failure there, never a skip
    # The test extra leaves botocore out below 3.10 (setup.cfg: it pins urllib3 < 2 there).
    pytest.skip("botocore is missing: pip install -e '.[test]' (Python 3.10 or later)", allow_module_level=True)

# -- the stand-in against AWS's test vectors ---------------------------------
# From the AWS Signature Version 4 Test Suite (AWS General Reference, "Signature
# Version 4 test suite"), as kept in bazelbuild/bazel third_party/aws-sig-v4-test-suite
# (commit 6b2dc5363d95ba54e5578d64981694f1ae329bdf): the .req/.sreq files of
# the four vectors below, and for get-vanilla its published signature.
VECTOR_KEY = ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
VECTOR_NOW = datetime(2015, 8, 30, 12, 36, tzinfo=timezone.utc)
STS_TOKEN = ("AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIe"
             "oIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5"
             "VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Y"
             "jc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==")
HOST = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
VECTORS = {
    # name: (method, target, headers, body, signed headers, signature)
    "get-vanilla": ("GET", "/", HOST, b"", "host;x-amz-date",
                    "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    "get-vanilla-query-order-key-case": (
        "GET", "/?Param2=value2&Param1=value1", HOST, b"", "host;x-amz-date",
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    "post-x-www-form-urlencoded": (
        "POST", "/", [("Content-Type", "application/x-www-form-urlencoded"), *HOST], b"Param1=value1",
        "content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"),
    "post-sts-header-before": (
        "POST", "/", [*HOST, ("X-Amz-Security-Token", STS_TOKEN)], b"",
        "host;x-amz-date;x-amz-security-token",
        "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"),
}


def _vector_keys(token=None):
    keys = aws.Keys()
    keys.add(*VECTOR_KEY, token)
    return keys


def _signed(headers, signed, sig):
    auth = (f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            f"SignedHeaders={signed}, Signature={sig}")
    return [*headers, ("Authorization", auth)]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_standin_computes_the_published_signature(name):
    method, target, headers, body, signed, expected = VECTORS[name]
    creq = aws.canonical_request(method, target, headers, signed.split(";"), body)
    assert aws.signature(VECTOR_KEY[1], "20150830T123600Z", "20150830/us-east-1/service/aws4_request",
                         creq) == expected


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_standin_accepts_the_published_request(name):
    method, target, headers, body, signed, sig = VECTORS[name]
    token = STS_TOKEN if "sts" in name else None
    assert aws.verify(method, target, _signed(headers, signed, sig), body, _vector_keys(token),
                      region="us-east-1", service="service", now=VECTOR_NOW) is None


def test_standin_published_canonical_request_of_the_form_post():
    # post-x-www-form-urlencoded.creq, line by line.
    method, target, headers, body, signed, _ = VECTORS["post-x-www-form-urlencoded"]
    assert aws.canonical_request(method, target, headers, signed.split(";"), body).splitlines() == [
        "POST", "/", "", "content-type:application/x-www-form-urlencoded", "host:example.amazonaws.com",
        "x-amz-date:20150830T123600Z", "", "content-type;host;x-amz-date",
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"]


@pytest.mark.parametrize("tamper", ["path", "query", "header", "body", "signature", "secret"])
def test_standin_refuses_a_tampered_request(tamper):
    method, target, headers, body, signed, sig = VECTORS["post-x-www-form-urlencoded"]
    keys = _vector_keys()
    if tamper == "path":
        target = "/other"
    elif tamper == "query":
        target = "/?Param1=value1"
    elif tamper == "header":
        headers = [("Content-Type", "text/plain"), *HOST]
    elif tamper == "body":
        body = b"Param1=value2"
    elif tamper == "signature":
        sig = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    else:
        keys.add(VECTOR_KEY[0], "not-the-secret")
    assert aws.verify(method, target, _signed(headers, signed, sig), body, keys, region="us-east-1",
                      service="service", now=VECTOR_NOW) == aws.MISMATCH


def test_standin_refuses_a_signature_older_than_5_minutes():
    method, target, headers, body, signed, sig = VECTORS["get-vanilla"]
    later = VECTOR_NOW.replace(minute=41, second=1)
    assert aws.verify(method, target, _signed(headers, signed, sig), body, _vector_keys(), region="us-east-1",
                      service="service", now=later) == (
        "Signature expired: 20150830T123600Z is now earlier than 20150830T123601Z "
        "(20150830T124101Z - 5 min.)")
    just_in_time = VECTOR_NOW.replace(minute=41)
    assert aws.verify(method, target, _signed(headers, signed, sig), body, _vector_keys(), region="us-east-1",
                      service="service", now=just_in_time) is None


# -- the plugin against the stand-ins ------------------------------------------
ACCESS_KEY, SECRET, TOKEN = "AKIAMONITOREXAMPLE", "monitor/secret+key/EXAMPLE0123456789", "session-token-EXAMPLE=="


def hourly_cluster(repository="cs-automated-enc", age_ms=20 * 60 * 1000, family="os2"):
    """A domain's automated snapshots: hourly, the newest ``age_ms`` old."""
    import time
    now = int(time.time() * 1000)
    return Cluster(family, {repository: daily(24, now, prefix="2026-12-04t", every_ms=HOUR_MS,
                                              last_age_ms=age_ms)})


@pytest.fixture
def domain():
    with aws.Domain(hourly_cluster()) as dom:
        dom.keys.add(ACCESS_KEY, SECRET)
        yield dom


def signed_run(dom, tmp_path, *args, **env):
    env = aws.isolated_env(tmp_path, **env)
    return run_check("--url", dom.url, "--aws-sigv4", "--aws-region", dom.region, *args, env=env)


def keys_env(secret=SECRET, token=None):
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": secret}
    if token:
        env["AWS_SESSION_TOKEN"] = token
    return env


def where(dom):
    return dom.url.split("//")[1]


def test_ok_every_request_signed_with_the_payload_hash_of_its_empty_body(domain, tmp_path):
    code, out, err = signed_run(domain, tmp_path, "-r", "cs-automated-enc", "-w", "2h", "-c", "4h", **keys_env())
    assert (code, err) == (0, ""), out
    assert out.startswith("ES_SNAPSHOT OK - ")
    assert len(domain.seen) >= 2
    for seen in domain.seen:
        assert seen["refusal"] is None
        assert seen["body"] == b""
        assert seen["headers"]["X-Amz-Content-SHA256"] == aws.EMPTY_SHA256 == hashlib.sha256(b"").hexdigest()
        assert "X-Amz-Security-Token" not in seen["headers"]


def test_ok_with_a_session_token(domain, tmp_path):
    domain.keys.add(ACCESS_KEY, SECRET, TOKEN)
    code, out, _ = signed_run(domain, tmp_path, **keys_env(token=TOKEN))
    assert code == 0, out
    assert {s["headers"].get("X-Amz-Security-Token") for s in domain.seen} == {TOKEN}


def test_ok_with_a_profile_from_the_shared_credentials_file(domain, tmp_path):
    (tmp_path / "aws-credentials").write_text(
        f"[monitoring]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET}\n")
    (tmp_path / "aws-config").write_text(f"[profile monitoring]\nregion = {domain.region}\n")
    # No --aws-region: the profile's region is the one signed for.
    code, out, _ = run_check("--url", domain.url, "--aws-sigv4",
                             env=aws.isolated_env(tmp_path, AWS_PROFILE="monitoring"))
    assert code == 0, out


def test_unknown_wrong_secret_key(domain, tmp_path):
    code, out, _ = signed_run(domain, tmp_path, **keys_env(secret="not/the/secret"))
    assert code == 3
    assert out.splitlines()[0] == (
        f"ES_SNAPSHOT UNKNOWN - AWS refused the signed request at {where(domain)} (HTTP 403): the "
        "signature does not match: check the secret key and the region; The request signature we "
        "calculated does not match the signature you ...")


def test_unknown_expired_session_token(domain, tmp_path):
    domain.keys.add(ACCESS_KEY, SECRET, TOKEN)
    domain.keys.expired_tokens.add(TOKEN)
    code, out, _ = signed_run(domain, tmp_path, **keys_env(token=TOKEN))
    assert code == 3
    assert out.splitlines()[0] == (
        f"ES_SNAPSHOT UNKNOWN - AWS refused the signed request at {where(domain)} (HTTP 403): the session "
        "token has expired, renew the credentials; The security token included in the request is expired")


def test_unknown_expired_credentials_known_before_sending(domain, tmp_path):
    env = {**keys_env(token=TOKEN), "AWS_CREDENTIAL_EXPIRATION": "2020-01-01T00:00:00Z"}
    code, out, _ = signed_run(domain, tmp_path, **env)
    assert code == 3
    assert out.splitlines()[0] == "ES_SNAPSHOT UNKNOWN - the AWS credentials (env) have expired: renew them"
    assert domain.seen == []


def test_unknown_signature_expired_by_the_domains_clock(domain, tmp_path):
    from datetime import timedelta
    domain.skew = timedelta(minutes=10)  # the monitoring host's clock is 10 minutes behind
    code, out, _ = signed_run(domain, tmp_path, **keys_env())
    assert code == 3
    first = out.splitlines()[0]
    assert first.startswith(f"ES_SNAPSHOT UNKNOWN - AWS refused the signed request at {where(domain)} "
                            "(HTTP 403): the signature is too old: check this host's clock (NTP); "
                            "Signature expired: 20")
    assert re.fullmatch(r".*; Signature expired: [0-9]{8}T[0-9]{6}Z is now earlier than [0-9T]+\.\.\.", first)


def test_unknown_iam_denies(domain, tmp_path):
    domain.deny = "arn:aws:iam::123456789012:user/monitor"
    code, out, _ = signed_run(domain, tmp_path, **keys_env())
    assert code == 3
    assert out.splitlines()[0] == (
        f"ES_SNAPSHOT UNKNOWN - AWS refused the signed request at {where(domain)} (HTTP 403): IAM denies "
        "it: allow es:ESHttpGet on this domain to this identity; User: arn:aws:iam::123456789012:user/monitor "
        "is not authorized to per...")


def test_unknown_no_credentials_anywhere(domain, tmp_path):
    code, out, _ = signed_run(domain, tmp_path)
    assert code == 3
    assert out.splitlines()[0] == (
        "ES_SNAPSHOT UNKNOWN - no AWS credentials found (looked for AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
        "AWS_PROFILE and ~/.aws/credentials or config, web identity, container or EC2 instance role)")
    assert domain.seen == []


def test_unknown_no_region_anywhere(domain, tmp_path):
    # 127.0.0.1 names no region, the environment and the profile neither.
    code, out, _ = run_check("--url", domain.url, "--aws-sigv4", env=aws.isolated_env(tmp_path, **keys_env()))
    assert code == 3
    assert out.splitlines()[0] == (
        "ES_SNAPSHOT UNKNOWN - --aws-sigv4 needs a region: give --aws-region, set AWS_REGION, or use "
        "the domain's endpoint (...REGION.es.amazonaws.com)")
    assert domain.seen == []


def test_unknown_without_botocore(domain, tmp_path):
    blocker = tmp_path / "blocker" / "botocore"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError(\"No module named 'botocore'\")\n")
    env = {**keys_env(), "PYTHONPATH": f"{blocker.parent}:{ROOT}"}
    code, out, _ = signed_run(domain, tmp_path, **env)
    assert code == 3
    assert out.splitlines()[0] == (
        "ES_SNAPSHOT UNKNOWN - --aws-sigv4 needs botocore, which is not installed: "
        "pip install 'check_es_snapshot[aws]' or apt install python3-botocore")


def test_vvv_prints_no_secret_key_session_token_or_signature(domain, tmp_path):
    domain.keys.add(ACCESS_KEY, SECRET, TOKEN)
    domain.deny = "arn:aws:iam::123456789012:user/monitor"  # a refusal too: its path is logged in full
    code, out, err = signed_run(domain, tmp_path, "-vvv", **keys_env(token=TOKEN))
    assert code == 3
    signatures = {s["headers"]["Authorization"].rpartition("Signature=")[2] for s in domain.seen}
    assert signatures
    for secret in (SECRET, TOKEN, *signatures):
        assert secret not in out + err


def test_ok_instance_role_over_imdsv2(domain, tmp_path):
    domain.keys.add("ASIAINSTANCEROLE", "instance/role/secret", "instance-session-token")
    with aws.Imds("ASIAINSTANCEROLE", "instance/role/secret", "instance-session-token") as imds:
        code, out, _ = signed_run(domain, tmp_path, AWS_EC2_METADATA_DISABLED="false",
                                  AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
    assert code == 0, out
    # IMDSv2: the session token first, then role and credentials asked with it.
    assert imds.requests[0][:2] == ("PUT", "/latest/api/token")
    gets = [r for r in imds.requests if r[0] == "GET"]
    assert [r[1] for r in gets[:2]] == ["/latest/meta-data/iam/security-credentials/",
                                        "/latest/meta-data/iam/security-credentials/monitor-role"]
    assert all(r[2].get("x-aws-ec2-metadata-token") == imds.token for r in gets), imds.requests


def test_ok_web_identity_through_sts(domain, tmp_path):
    import botocore.configprovider
    if not hasattr(botocore.configprovider, "ConfiguredEndpointProvider"):
        # botocore < 1.31 ignores AWS_ENDPOINT_URL_STS: its STS call would
        # leave this host (and AWS_ENDPOINT_URL, the catch-all, too).
        message = f"botocore {botocore.__version__} cannot be pointed at a local STS (the test extra needs 1.31)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    role = "arn:aws:iam::123456789012:role/snapshot-monitor"
    token_file = tmp_path / "web-identity-token"
    token_file.write_text("eyJ-a-service-account-token")
    domain.keys.add("ASIAWEBIDENTITY", "web/identity/secret", "web-session-token")
    with aws.Sts(role, "eyJ-a-service-account-token", "ASIAWEBIDENTITY", "web/identity/secret",
                 "web-session-token") as sts:
        code, out, _ = signed_run(domain, tmp_path, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
                                  AWS_ROLE_ARN=role, AWS_ENDPOINT_URL_STS=sts.url)
    assert code == 0, out
    assert [r["Action"] for r in sts.requests] == ["AssumeRoleWithWebIdentity"]
    assert {s["headers"].get("X-Amz-Security-Token") for s in domain.seen} == {"web-session-token"}


def test_ok_container_credentials(domain, tmp_path):
    domain.keys.add("ASIACONTAINER", "container/secret", "container-session-token")
    with aws.ContainerCredentials("ASIACONTAINER", "container/secret", "container-session-token") as endpoint:
        code, out, _ = signed_run(domain, tmp_path,
                                  AWS_CONTAINER_CREDENTIALS_FULL_URI=endpoint.url + endpoint.path,
                                  AWS_CONTAINER_AUTHORIZATION_TOKEN=endpoint.auth_token)
    assert code == 0, out
    assert endpoint.requests == [(endpoint.path, endpoint.auth_token)]
    assert {s["headers"].get("X-Amz-Security-Token") for s in domain.seen} == {"container-session-token"}


def test_ok_redirect_on_the_same_host_is_signed_anew(domain, tmp_path):
    domain.redirects["/_snapshot"] = domain.url + "/_snapshot/_all"
    code, out, _ = signed_run(domain, tmp_path, **keys_env())
    assert code == 0, out
    assert [s["path"] for s in domain.seen if s["path"].startswith("/_snapshot/_all")]
    assert all(s["refusal"] is None for s in domain.seen)


def test_redirect_to_another_host_carries_neither_signature_nor_session_token(domain, tmp_path):
    domain.keys.add(ACCESS_KEY, SECRET, TOKEN)
    with aws.Domain(Cluster("os2")) as elsewhere:
        domain.redirects["/_snapshot"] = elsewhere.url + "/_snapshot"
        signed_run(domain, tmp_path, **keys_env(token=TOKEN))
    assert elsewhere.seen, "the redirect was followed"
    for seen in elsewhere.seen:
        assert seen["refusal"] == aws.MISSING
        assert not any(name.lower().startswith("x-amz-") or name.lower() == "authorization"
                       for name in seen["headers"])


def test_only_get_requests_so_es_eshttpget_is_the_whole_iam_policy(domain, tmp_path):
    signed_run(domain, tmp_path, "--slm", "-vv", **keys_env())
    assert domain.server.cluster.log
    assert {entry["method"] for entry in domain.server.cluster.log} == {"GET"}


# -- botocore is imported for --aws-sigv4 only -----------------------------------
IMPORTED = """
import sys
from plugin import cli
try:
    cli.main(sys.argv[1:], environ={})
except SystemExit:
    pass
sys.__stdout__.write("botocore imported: %s\\n" % ("botocore" in sys.modules))
"""


@pytest.mark.parametrize("signed", [False, True])
def test_botocore_is_imported_only_with_aws_sigv4(tmp_path, signed):
    with Server(hourly_cluster()) as server:
        args = ["--url", server.url] + (["--aws-sigv4", "--aws-region", "eu-west-1"] if signed else [])
        result = subprocess.run([sys.executable, "-c", IMPORTED, *args], capture_output=True, text=True,
                                cwd=str(ROOT), env=aws.isolated_env(tmp_path, PATH="/usr/bin:/bin"), timeout=60)
    assert result.stdout.splitlines()[-1] == f"botocore imported: {signed}"


# -- the region --------------------------------------------------------------------
@pytest.mark.parametrize("host, region", [
    ("search-logs-abc123xyz.eu-west-1.es.amazonaws.com", "eu-west-1"),
    ("vpc-logs-abc123xyz.us-gov-west-1.es.amazonaws.com", "us-gov-west-1"),
    ("search-logs-abc.cn-north-1.es.amazonaws.com.cn", "cn-north-1"),
    ("logs.example.com", None),
    ("eu-west-1.es.amazonaws.com.example.net", None),
])
def test_region_from_the_endpoint_name(host, region):
    assert region_from_host(host) == region


ENDPOINT = "https://search-logs-abc123xyz.eu-west-1.es.amazonaws.com"


@pytest.mark.parametrize("args, environ, region", [
    (["--aws-region", "us-east-2"], {"AWS_REGION": "ap-south-1"}, "us-east-2"),
    ([], {"AWS_REGION": "ap-south-1"}, "eu-west-1"),
])
def test_region_precedence_option_then_endpoint_then_environment(args, environ, region):
    assert parse_settings(["--url", ENDPOINT, "--aws-sigv4", *args], environ).aws_region == region


@pytest.mark.parametrize("environ, region", [
    ({"AWS_REGION": "ap-south-1", "AWS_DEFAULT_REGION": "sa-east-1"}, "ap-south-1"),
    ({"AWS_DEFAULT_REGION": "sa-east-1"}, "sa-east-1"),
    ({}, None),  # the AWS profile's, if any, at the first request
])
def test_region_for_a_custom_endpoint_from_the_environment(environ, region):
    assert parse_settings(["--url", "https://logs.example.com", "--aws-sigv4"], environ).aws_region == region


@pytest.mark.parametrize("args, message", [
    (["--aws-region", "eu-west-1"], "--aws-region needs --aws-sigv4"),
    (["--aws-sigv4", "--aws-region", "Ireland"], "--aws-region 'Ireland' is not an AWS region (e.g. eu-west-1)"),
    (["--aws-sigv4", "--user", "monitor", "--password-file", "/dev/null"], None),
])
def test_unknown_usage_errors(args, message, tmp_path):
    if message is None:
        secret = tmp_path / "password"
        secret.write_text("pw\n")
        args = [a if a != "/dev/null" else str(secret) for a in args]
        message = ("--aws-sigv4 signs the Authorization header itself: give no --user, "
                   "API key or bearer token with it")
    with pytest.raises(UsageError) as raised:
        parse_settings(["--url", ENDPOINT, *args], {})
    assert str(raised.value) == message


def test_ok_fine_grained_access_control_with_basic_auth_as_today(tmp_path):
    cluster = hourly_cluster("cs-automated")
    cluster.auth = {"user": "monitor", "password": "fgac-password"}
    with Server(cluster) as server:
        code, out, _ = run_check("--url", server.url, "--user", "monitor", "-r", "cs-automated",
                                 "-w", "2h", "-c", "4h", env={"ES_PASSWORD": "fgac-password"})
    assert code == 0, out
    assert all(entry["authorization"] for entry in cluster.log)
