"""README's "Managed services", line by line, and --cloud-id.

Each example command in that section is read from the README and run
against a simulated service with the schedule the README names for it: OK
while snapshots keep that schedule, CRITICAL once the newest success is
older than the command's -c.  Commands that need no socket run in-process
(tests/incheck.py routes the README's own URL); the Amazon OpenSearch
Service one runs as the real script against the signature-checking domain
of tests/aws_standins.py.
"""
import base64
import re
import shlex
import sys
import time

import pytest

from plugin.aws import region_from_host
from plugin.durations import parse_duration
from plugin.options import UsageError, cloud_id_url, parse_settings
from tests import aws_standins as aws
from tests.conftest import ROOT, run_check
from tests.fake_es import Cluster, daily
from tests.incheck import main_with

README = (ROOT / "README.md").read_text()
SECTION = README.split("\n## Managed services\n")[1].split("\n## ")[0]
MINUTE_MS = 60 * 1000


def subsection(title):
    return SECTION.split(f"\n### {title}\n")[1].split("\n### ")[0]


def commands(text):
    """(environment, argv) of each check_es_snapshot command in ```sh blocks."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        words = shlex.split(block.replace("\\\n", " "))
        env = {}
        while "=" in words[0] and not words[0].startswith("-"):
            name, _, value = words.pop(0).partition("=")
            env[name] = value
        assert words[0] == "check_es_snapshot"
        found.append((env, words[1:]))
    return found


def option(argv, name):
    return argv[argv.index(name) + 1]


# The schedule each subsection names, as the snapshots' interval.
SCHEDULES = {"Alibaba Cloud Elasticsearch": ("every 30 minutes", 30),
             "Amazon OpenSearch Service": ("**hourly**", 60),
             "Elastic Cloud": ("every **30 minutes**", 30)}


def test_each_service_names_its_repository_and_schedule():
    repositories = {"Alibaba Cloud Elasticsearch": ["aliyun_auto_snapshot"],
                    "Amazon OpenSearch Service": ["cs-automated-enc", "cs-automated"],
                    "Elastic Cloud": ["found-snapshots"]}
    for title, (words, _minutes) in SCHEDULES.items():
        text = subsection(title)
        assert words in text, title
        assert [option(argv, "-r") for _env, argv in commands(text)] == repositories[title]
    assert "--slm-policy cloud-snapshot-policy" in subsection("Elastic Cloud")


def service_cluster(family, repository, every_minutes, age_minutes, policy=""):
    now = int(time.time() * 1000)
    snaps = daily(12, now, prefix="auto", every_ms=every_minutes * MINUTE_MS,
                  last_age_ms=age_minutes * MINUTE_MS, policy=policy)
    return Cluster(family, {repository: snaps})


def secret_env(env, cluster):
    """The README's '…' secrets as real ones, and the cluster asking for them."""
    filled = {}
    for name in env:
        filled[name] = f"secret-for-{name.lower()}"
    if "ES_PASSWORD" in filled:
        cluster.auth = {"user": "monitor", "password": filled["ES_PASSWORD"]}
    if "ES_API_KEY" in filled:
        cluster.auth = {"api_key": filled["ES_API_KEY"]}
    return filled


def in_process_cases():
    for title, family in (("Alibaba Cloud Elasticsearch", "es7.10"), ("Amazon OpenSearch Service", "os2"),
                          ("Elastic Cloud", "es8")):
        for env, argv in commands(subsection(title)):
            if "--aws-sigv4" not in argv:
                yield pytest.param(title, family, env, argv, id=f"{title}-{option(argv, '-r')}")


@pytest.mark.parametrize("title, family, env, argv", list(in_process_cases()))
def test_readme_command_ok_on_schedule_critical_past_c(title, family, env, argv):
    every = SCHEDULES[title][1]
    critical_min = parse_duration(option(argv, "-c")) // 60
    policy = option(argv, "--slm-policy") if "--slm-policy" in argv else ""
    base = parse_settings(argv, {name: "x" for name in env}).base_url
    for age, expected in ((every // 3, 0), (critical_min + every, 2)):
        cluster = service_cluster(family, option(argv, "-r"), every, age, policy)
        filled = secret_env(env, cluster)
        code, out, _ = main_with({base: cluster}, *argv, env=filled, now_ms=None)
        assert code == expected, out
        assert all(entry["authorization"] for entry in cluster.log) == bool(env)


try:
    import botocore  # noqa: F401 - the test extra brings it from Python 3.10 on (setup.cfg)
    HAVE_BOTOCORE = True
except ImportError:
    HAVE_BOTOCORE = False


@pytest.mark.skipif(not HAVE_BOTOCORE and sys.version_info < (3, 10),
                    reason="botocore is left out of the test extra below Python 3.10 (setup.cfg)")
def test_readme_aws_command_signed_ok_on_schedule_critical_past_c(tmp_path):
    (env, argv), = [c for c in commands(subsection("Amazon OpenSearch Service")) if "--aws-sigv4" in c[1]]
    assert env == {}
    url = option(argv, "--url")
    region = region_from_host(url.split("//")[1])
    assert region == "eu-west-1"
    critical_min = parse_duration(option(argv, "-c")) // 60
    for age, expected in ((20, 0), (critical_min + 60, 2)):
        with aws.Domain(service_cluster("os2", option(argv, "-r"), 60, age), region=region) as dom:
            dom.keys.add("AKIAREADME", "readme/secret")
            # The README's endpoint is the simulator's; the region it named stays.
            args = [a if a != url else dom.url for a in argv] + ["--aws-region", region]
            code, out, _ = run_check(*args, env=aws.isolated_env(
                tmp_path, AWS_ACCESS_KEY_ID="AKIAREADME", AWS_SECRET_ACCESS_KEY="readme/secret"))
        assert code == expected, out
        assert dom.seen and all(s["refusal"] is None for s in dom.seen)


def test_readme_iam_policy_names_the_one_action_the_check_needs():
    policy = re.search(r"```json\n(.*?)```", subsection("Amazon OpenSearch Service"), re.S).group(1)
    import json
    statement, = json.loads(policy)["Statement"]
    assert statement["Action"] == "es:ESHttpGet"  # tests/test_aws.py: only GET is ever sent


def test_readme_cloud_id_reads_as_it_says():
    text = subsection("Elastic Cloud")
    (_env, argv), = commands(text)
    url = re.search(r"That Cloud ID reads `([^`]+)`", text).group(1)
    assert cloud_id_url(option(argv, "--cloud-id")) == url


# -- --cloud-id decoded as elastic-transport-python's parse_cloud_id ------------
def cloud_id(decoded, name="prod"):
    return f"{name}:" + base64.b64encode(decoded.encode()).decode()


@pytest.mark.parametrize("decoded, url", [
    ("eu-west-1.aws.found.io$abc123$def456", "https://abc123.eu-west-1.aws.found.io:443"),
    ("eu-west-1.aws.found.io:9243$abc123$def456", "https://abc123.eu-west-1.aws.found.io:9243"),
    ("eu-west-1.aws.found.io$abc123$", "https://abc123.eu-west-1.aws.found.io:443"),  # trailing $
    ("eu-west-1.aws.found.io$abc123", "https://abc123.eu-west-1.aws.found.io:443"),  # no Kibana part
    ("eu-west-1.aws.found.io$abc123$def456$extra", "https://abc123.eu-west-1.aws.found.io:443"),
])
def test_cloud_id_decoded_as_the_official_clients_do(decoded, url):
    assert cloud_id_url(cloud_id(decoded)) == url


def test_cloud_id_name_may_hold_no_colon_but_the_rest_is_base64():
    # The name ends at the first ":"; a name is optional ("":base64).
    assert cloud_id_url(cloud_id("host.io$abc", name="")) == "https://abc.host.io:443"


NOT_A_CLOUD_ID = "--cloud-id is not a Cloud ID (name:base64, as the Elastic Cloud console shows it)"


@pytest.mark.parametrize("value, message", [
    ("just-a-name", NOT_A_CLOUD_ID),
    ("prod:!!!not-base64", NOT_A_CLOUD_ID),
    ("prod:" + base64.b64encode(b"$abc$def").decode(), NOT_A_CLOUD_ID),
    ("prod:" + base64.b64encode(b"host.io:port$abc").decode(), NOT_A_CLOUD_ID),
    ("prod:" + base64.b64encode(b"host.io").decode(),
     "--cloud-id names no Elasticsearch cluster (its es-uuid part is empty)"),
    ("prod:" + base64.b64encode(b"host.io$$kibana").decode(),
     "--cloud-id names no Elasticsearch cluster (its es-uuid part is empty)"),
    ("prod:" + base64.b64encode(b"host.io:70000$abc").decode(), "--cloud-id names port 70000, out of range"),
])
def test_unknown_bad_cloud_id(value, message):
    with pytest.raises(UsageError) as raised:
        cloud_id_url(value)
    assert str(raised.value) == message


@pytest.mark.parametrize("extra, named", [
    (["--url", "http://localhost:9200"], "--url"),
    (["-H", "es.example"], "-H"),
    (["-P", "9243"], "-P"),
    (["--url", "https://x.example", "-H", "y.example"], "--url or -H"),
])
def test_unknown_cloud_id_with_url_host_or_port(extra, named):
    code, out, _ = main_with({}, "--cloud-id", cloud_id("h.io$abc"), *extra)
    assert code == 3
    assert out.splitlines()[0] == (f"ES_SNAPSHOT UNKNOWN - usage: --cloud-id names the cluster: "
                                   f"give no {named} with it")


def test_unknown_bad_cloud_id_is_one_usage_line_exit_3():
    code, out, _ = main_with({}, "--cloud-id", "prod:@@@")
    assert (code, out.splitlines()[0]) == (3, f"ES_SNAPSHOT UNKNOWN - usage: {NOT_A_CLOUD_ID}")


def test_ok_cloud_id_with_an_api_key_reaches_the_decoded_url():
    cluster = service_cluster("es8", "found-snapshots", 30, 10, policy="cloud-snapshot-policy")
    cluster.auth = {"api_key": "ZW5jb2RlZDprZXk="}
    code, out, _ = main_with({"https://abc123.eu-west-1.aws.found.io:443": cluster},
                             "--cloud-id", cloud_id("eu-west-1.aws.found.io$abc123$def"), "-r", "found-snapshots",
                             env={"ES_API_KEY": "ZW5jb2RlZDprZXk="}, now_ms=None)
    assert code == 0, out
    assert cluster.log and all(entry["authorization"] for entry in cluster.log)


# -- the CheckCommand passes --cloud-id instead of --url ----------------------
def test_icinga_passes_cloud_id_without_url(tmp_path):
    from tests.test_integrations import ICINGA, icinga_config, need, start_logged, stop_group  # noqa: F401
    icinga2 = need("icinga2")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    argv_file = tmp_path / "argv"
    wrapper = plugins / "check_es_snapshot"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{argv_file}"\necho "ES_SNAPSHOT OK - recorded"\n')
    wrapper.chmod(0o755)
    body = f'''
object CheckerComponent "checker" {{ }}
object Host "cloud" {{ check_command = "dummy"; address = "127.0.0.1"; check_interval = 1h }}
object Service "snapshots" {{
  host_name = "cloud"
  check_command = "es_snapshot"
  check_interval = 1s
  retry_interval = 1s
  vars.es_snapshot_cloud_id = "{cloud_id("h.io$abc")}"
  vars.es_snapshot_repository = [ "found-snapshots" ]
}}
'''
    main, defines, _ = icinga_config(tmp_path, plugins, body)
    daemon = start_logged([icinga2, "daemon", "-c", str(main), *defines], tmp_path / "icinga2.out")
    try:
        deadline = time.monotonic() + 60
        while not (argv_file.exists() and argv_file.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop_group(daemon)
    argv = argv_file.read_text().splitlines()
    assert "--url" not in argv
    assert argv[argv.index("--cloud-id") + 1] == cloud_id("h.io$abc")
