"""The command line: options, their help, and validation into Settings.

The option names are a contract with monitoring configurations (Icinga vars,
Nagios commands): icinga/generate.py derives the CheckCommand from
build_parser(), and tests hold README and --help together.
"""
import argparse
import base64  # noqa: F401 - the doctest of cloud_id_url
import binascii
import ipaddress
import os
import re
from typing import Dict, NamedTuple, Optional, Tuple, Union
from urllib.parse import urlsplit, urlunsplit

import nagiosplugin
from nagiosplugin.state import ServiceState

from . import __version__
from .aws import REGION_FORMAT, region_from_host
from .contexts import ALIASES, DEFAULT_STATE_MAP, LEVELS
from .credentials import (API_KEY_ENV, BEARER_ENV, PASSWORD_ENV, CredentialError,
                          load_credentials, split_url_userinfo)
from .durations import DurationError, parse_age_range, parse_duration
from .wording import clean, clean_reason
from .reader import Query

PROG = "check_es_snapshot"
# The CheckCommand ships inside the package (icinga/generate.py writes it
# there too), so --print-icinga-conf finds it wherever the plugin is installed.
ICINGA_CONF = "es_snapshot.conf"
DEFAULT_WARNING = "1d2h"
DEFAULT_CRITICAL = "2d2h"
DEFAULT_TIMEOUT = 10
DEFAULT_URL = "http://localhost:9200"
TIMEOUT_RANGE = (1, 3600)  # seconds -t may give
FORMATS = ("nagios", "json", "openmetrics")
# The look-back window reaches this far beyond the critical age, so that a
# snapshot just past it is still named with its real age.
WINDOW_SLACK_S = 3600

DESCRIPTION = """\
Checks the snapshot backups of an Elasticsearch (5.x-9.x, Alibaba Cloud
included) or OpenSearch (1.x-3.x) cluster: the state of the newest completed
snapshot of each repository (by end time), of every failure no later success
followed, and the age of the newest successful one.
"""

EPILOG = f"""\
AGE takes seconds (3600), durations (90m, 26h, 1d12h, 2w, 1y; units y (365
days) w d h m s) or a Nagios range of them (@1h:2h); see
https://www.monitoring-plugins.org/doc/guidelines.html#THRESHOLDFORMAT
Output shows an age of a year or more in years and days (6y148d); perfdata
stays in seconds.

States (the newest *completed* snapshot of each repository is judged, by
end time, and so is every one that was no success and that no success of
its own SLM/SM policy, or of no policy, ended after):
  OK        it is SUCCESS, and the newest success is younger than -w;
            a repository without any snapshot if --no-snapshots-state ok
  WARNING   it is PARTIAL; the age outside -w; a snapshot starting over
            an hour in the future (clock skew: it is set aside); the
            newest success of a policy holds no index (see
            --empty-snapshot-state)
  CRITICAL  it is FAILED or INCOMPATIBLE (also while a retry runs); age
            outside -c; no repository registered; a named repository
            missing; no successful snapshot (an empty repository: see
            --no-snapshots-state); cluster unreachable (refused, DNS,
            TLS), HTTP 5xx, or no complete answer within -t
  UNKNOWN   a state this plugin does not know (always named); HTTP
            401/403; an answer that is not what Elasticsearch sends; bad
            usage; the plugin's own overall timeout
  Every running snapshot is judged by --running-warning/--running-critical
  (default: -w/-c when they are plain ages, else none); nothing running is
  never a problem. A failure streak beyond --failed-streak-*, failures
  among the last N beyond --failed-recent-*, with --slm a stopped SLM or
  a policy disabled, late by over 1h or failed (WARNING), with --health a
  yellow/red indicator count as well; a cluster without SLM or health
  report is noted in -v and JSON, not judged. With several
  repositories the worst counts (CRITICAL > WARNING > UNKNOWN > OK),
  and of snapshots ending in the same millisecond the worse state.
  --state-map changes a level, e.g. PARTIAL=ok (then also a success for
  the age and the streak). A status line with a reason runs to ~120 chars.

Perfdata (absent when the cluster could not be read):
  age            s  age of the newest success of the stalest repository,
                    with the -w/-c thresholds
  duration       s  run time of the newest completed snapshot (by end
                    time, as for size and shards_failed)
  size           B  total size of the newest completed snapshot
  shards_failed     failed shards of the newest completed snapshot
  running        s  how long the longest-running snapshot runs (0: none)
  failed_streak     completed snapshots in a row (by end time) of one
                    policy that were no success
  failed_recent     with --failed-in-last N: how many of the last N
                    completed snapshots were no success (worst repository)
  With two or more repositories also <repo>_age, <repo>_duration,
  <repo>_size, <repo>_running, <repo>_failed_streak per repository read
  (characters outside A-Za-z0-9_.- become _).

Secrets: the password from ${PASSWORD_ENV} or --password-file, an API key
from ${API_KEY_ENV} or --api-key-file, a bearer token from ${BEARER_ENV} or
--bearer-token-file, or user:password inside --url. --password is visible
to other local users in the process list.

Verbosity: -v lists the recent snapshots and failure reasons, -vv adds the
requests made and the cluster version, -vvv debug detail and tracebacks.
"""


class UsageError(Exception):
    """Bad usage: UNKNOWN (exit 3), never argparse's exit 2 (CRITICAL)."""


class HelpShown(Exception):
    pass


def ascii_int(text):
    """int() for the command line: ASCII digits only (int("١٢") is 12)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise ValueError(text)
    return int(text)


ascii_int.__name__ = "int"  # argparse names the type in its message: "invalid int value"


def parse_timeout(text):
    """-t in seconds, or UsageError: the one rule, for the check and its parent."""
    try:
        seconds = parse_duration(text)
    except DurationError as exc:
        raise UsageError(str(exc)) from None
    if not TIMEOUT_RANGE[0] <= seconds <= TIMEOUT_RANGE[1]:
        raise UsageError("--timeout must be between 1 and 3600 seconds")
    return seconds


class PrintIcingaConf(argparse.Action):
    """Prints the Icinga 2 CheckCommand and exits 3, as --version does."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.resources import files  # only when asked: start-up time counts
        parser.exit(message=files(__package__).joinpath(ICINGA_CONF).read_text(encoding="utf-8"))


class Parser(argparse.ArgumentParser):
    def error(self, message):
        prefix = "unrecognized arguments: "
        if message.startswith(prefix):
            # "--pass=hunter2" or a stray value must not be echoed back.
            words = message[len(prefix):].split()
            names = [w.partition("=")[0] for w in words if w.startswith("-")]
            others = len(words) - len(names)
            message = prefix + " ".join(names + ([f"and {others} value(s), not shown"] if others else []))
        raise UsageError(message)

    def exit(self, status=0, message=None):
        if message:
            print(message, end="")
        raise HelpShown()


class Settings(NamedTuple):
    """Everything the command line decided; immutable (see snapshots.py on namedtuple).

    Ranges are nagiosplugin range specs (plain seconds or counts)."""
    base_url: str
    warning: str                                    # -w, an age range
    critical: str                                   # -c
    timeout: float                                  # -t, seconds
    query: Query                                    # what the run reads (reader.py)
    authorization: Optional[str] = None             # the Authorization header value
    verify: Union[bool, str] = True                 # False (--insecure) or a CA file or directory
    cert: Union[None, str, Tuple[str, str]] = None  # client certificate [and key]
    use_env_proxy: bool = True
    state_map: Optional[Dict[str, ServiceState]] = None
    notes: Tuple[str, ...] = ()                     # said in the long output
    secrets: Tuple[str, ...] = ()                   # never printed (credentials.Redactor)
    running_warning: Optional[str] = None
    running_critical: Optional[str] = None
    streak_warning: Optional[str] = None
    streak_critical: Optional[str] = None
    no_snapshots_state: ServiceState = nagiosplugin.Critical
    empty_snapshot_state: ServiceState = nagiosplugin.Warn
    recent_warning: Optional[str] = None
    recent_critical: Optional[str] = None
    aws_sigv4: bool = False                         # sign with AWS SigV4 (aws.py)
    aws_region: Optional[str] = None                # None: the AWS profile's region

    # What the query holds, asked by the name the command line gives it.
    @property
    def repositories(self):
        return self.query.repositories

    @property
    def policy(self):
        return self.query.policy

    @property
    def verbose(self):
        return self.query.verbose

    @property
    def format(self):
        return self.query.format

    @property
    def failed_in_last(self):
        return self.query.recent

    @property
    def window_s(self):
        return self.query.window_s

    @property
    def successes(self):
        return self.query.successes


def _window_s(critical, running_critical):
    """Look-back window: what -c and --running-critical can still judge.

    None when either is no upper bound: then every snapshot is needed.
    """
    ends = []
    for spec in (critical, running_critical or critical):
        limit = nagiosplugin.Range(spec)
        if limit.invert or limit.end == float("inf"):
            return None
        ends.append(limit.end)
    return int(max(ends)) + WINDOW_SLACK_S


def _successes(state_map):
    """States that count as a success for the age and the failure
    streak: SUCCESS and every state --state-map maps to ok."""
    levels = {**DEFAULT_STATE_MAP, **(state_map or {})}
    return frozenset(state for state, level in levels.items()
                     if level == nagiosplugin.Ok and state != "IN_PROGRESS")


def build_parser():
    # allow_abbrev=False: "--pass=x" must not silently mean --password.
    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, add_help=False, allow_abbrev=False,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    conn = p.add_argument_group("connection")
    # No argparse default: --cloud-id must know whether --url was given.
    conn.add_argument("--url",
                      help="base URL of the cluster, may carry a path prefix "
                           f"(default: {DEFAULT_URL})")
    conn.add_argument("--cloud-id", metavar="ID",
                      help="Cloud ID of an Elastic Cloud deployment, instead of --url")
    conn.add_argument("-H", "--hostname", help="host name, replaces the one in --url")
    conn.add_argument("-P", "--port", type=ascii_int, help="port, replaces the one in --url")
    conn.add_argument("-t", "--timeout", default=str(DEFAULT_TIMEOUT), metavar="SECONDS",
                      help="the whole run ends within this time "
                           "(default: %(default)s)")
    conn.add_argument("--no-proxy", action="store_true",
                      help="ignore the http(s)_proxy environment variables")
    auth = p.add_argument_group("authentication and TLS")
    auth.add_argument("--user", help=f"user for basic auth (password: ${PASSWORD_ENV})")
    auth.add_argument("--password", help="password (visible in the process list; "
                                         f"prefer ${PASSWORD_ENV} or --password-file)")
    auth.add_argument("--password-file", metavar="FILE", help="file holding the password")
    auth.add_argument("--api-key-file", metavar="FILE",
                      help=f"file holding an API key, encoded or id:key (or ${API_KEY_ENV})")
    auth.add_argument("--bearer-token-file", metavar="FILE",
                      help=f"file holding a bearer token (or ${BEARER_ENV})")
    auth.add_argument("--aws-sigv4", action="store_true",
                      help="sign requests with AWS Signature Version 4 (Amazon OpenSearch "
                           "Service with IAM; needs botocore), with the standard AWS credentials")
    auth.add_argument("--aws-region", metavar="REGION",
                      help="region to sign for (default: from the endpoint's name, "
                           "$AWS_REGION, $AWS_DEFAULT_REGION or the AWS profile)")
    auth.add_argument("--ca-cert", metavar="PATH",
                      help="CA certificate file or directory to verify the server")
    auth.add_argument("--client-cert", metavar="FILE", help="client certificate (PEM)")
    auth.add_argument("--client-key", metavar="FILE", help="key of the client certificate")
    auth.add_argument("--insecure", action="store_true",
                      help="do not verify the server certificate")
    sel = p.add_argument_group("what to check")
    sel.add_argument("-r", "--repository", action="append", metavar="NAME",
                     help="repository to check, repeatable or comma-separated "
                          "(default: all registered)")
    sel.add_argument("-w", "--warning", default=DEFAULT_WARNING, metavar="AGE",
                     help="age of the newest successful snapshot that warns "
                          "(default: %(default)s)")
    sel.add_argument("-c", "--critical", default=DEFAULT_CRITICAL, metavar="AGE",
                     help="age that is critical (default: %(default)s)")
    sel.add_argument("--state-map", action="append", metavar="STATE=LEVEL",
                     help="level of a snapshot state (SUCCESS, PARTIAL, FAILED, "
                          "INCOMPATIBLE): ok, warning, critical or unknown, "
                          "repeatable (e.g. PARTIAL=ok)")
    sel.add_argument("--no-size", action="store_true",
                     help="skip collecting snapshot sizes (no _status request)")
    sel.add_argument("--running-warning", metavar="AGE",
                     help="run time of any IN_PROGRESS snapshot that warns "
                          "(default: -w if a plain age, else none)")
    sel.add_argument("--running-critical", metavar="AGE",
                     help="run time that is critical (default: -c if a plain "
                          "age, else none)")
    sel.add_argument("--failed-streak-warning", metavar="RANGE",
                     help="failed snapshots in a row that warn, e.g. 2 (default: none)")
    sel.add_argument("--failed-streak-critical", metavar="RANGE",
                     help="failed snapshots in a row that are critical (default: none)")
    sel.add_argument("--failed-in-last", type=ascii_int, metavar="N",
                     help="also count the snapshots among the last N completed ones of "
                          "each repository that were no success (perfdata failed_recent)")
    sel.add_argument("--failed-recent-warning", metavar="RANGE",
                     help="that count that warns, e.g. 2 (default: none)")
    sel.add_argument("--failed-recent-critical", metavar="RANGE",
                     help="that count that is critical (default: none)")
    sel.add_argument("--no-snapshots-state", type=str.lower, default="critical",
                     choices=("ok", "warning", "critical", "unknown"),
                     help="state of a repository that holds no snapshot at all "
                          "(default: %(default)s)")
    sel.add_argument("--empty-snapshot-state", type=str.lower, default="warning",
                     choices=("ok", "warning", "critical", "unknown"),
                     help="state of a successful snapshot that holds no index (of no index "
                          "matched, or of the cluster state alone) when it is the newest "
                          "success of its policy (default: %(default)s)")
    pol = p.add_argument_group("snapshot lifecycle management")
    pol.add_argument("--slm-policy", metavar="NAME",
                     help="only snapshots taken by this SLM (Elasticsearch) or snapshot "
                          "management (OpenSearch) policy")
    pol.add_argument("--slm", action="store_true",
                     help="also read SLM status and policies (ES >= 7.4; snapshot "
                          "management on OpenSearch >= 2.1): stopped, disabled, "
                          "missed schedule or failed last run warn")
    pol.add_argument("--health", action="store_true",
                     help="also judge the slm and repository_integrity indicators of "
                          "the health report (ES >= 8.7)")
    misc = p.add_argument_group("output")
    misc.add_argument("--format", choices=FORMATS, default="nagios",
                      help="nagios: status line and perfdata; json: one JSON "
                           "document; openmetrics: Prometheus text format for "
                           "node_exporter's textfile collector; same exit code "
                           "(default: %(default)s)")
    cron = p.add_argument_group("cron paging")
    cron.add_argument("--state-file", metavar="FILE",
                      help="remember what was reported in FILE and print only "
                           "news: a new problem, another state or reason, a "
                           "recovery (exit code unchanged; --format nagios "
                           "only; not for Icinga or Nagios)")
    cron.add_argument("--notify-every", metavar="DURATION",
                      help="with --state-file: report an unresolved problem "
                           "again after this long, e.g. 4h (default: once)")
    misc.add_argument("-v", "--verbose", action="count", default=0,
                      help="more detail, up to -vvv (see Verbosity)")
    misc.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
    misc.add_argument("--print-icinga-conf", action=PrintIcingaConf,
                      help="print the Icinga 2 CheckCommand and exit")
    misc.add_argument("-h", "--help", action="help", help="show this help")
    return p


_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?")


def _host(option, host):
    """A host name, IPv4 or IPv6 literal; IPv6 comes back bracketed."""
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if ":" in bare:
        address, _, zone = bare.partition("%")
        try:
            return f"[{ipaddress.IPv6Address(address).compressed}{'%25' + zone if zone else ''}]"
        except ValueError:
            pass
        raise UsageError(f"{option} takes a host name or IP address, without a scheme or port "
                         "(use -P for the port, --url for the scheme)")
    if bare != host or not _HOST_NAME.fullmatch(host) or len(host) > 253:
        raise UsageError(f"{option} takes a host name or IP address, not {clean_reason(host, 60)!r}")
    return host


def cloud_id_url(cloud_id):
    """The HTTPS URL of an Elastic Cloud ID, decoded as the official clients
    do (elastic-transport-python's parse_cloud_id): ``name:`` then base64 of
    ``host[:port]$es-uuid$kibana-uuid``, port 443 unless the host names one.

    >>> cloud_id_url("prod:" + base64.b64encode(b"eu-west-1.aws.found.io$abc123$def456").decode())
    'https://abc123.eu-west-1.aws.found.io:443'
    >>> cloud_id_url("prod:" + base64.b64encode(b"example.found.io:9243$abc$").decode())
    'https://abc.example.found.io:9243'
    """
    # As the clients do: everything before the first ":" is the name, the
    # rest base64 (binascii: characters outside the alphabet are skipped).
    _name, _, encoded = cloud_id.strip().partition(":")
    try:
        parts = binascii.a2b_base64(encoded.encode("ascii")).decode("ascii").split("$")
        host, es_uuid = parts[0], parts[1] if len(parts) > 1 else ""
        port = 443
        if ":" in host:
            host, _, text = host.rpartition(":")
            port = int(text)
    except (ValueError, UnicodeError, binascii.Error):
        raise UsageError("--cloud-id is not a Cloud ID (name:base64, as the Elastic Cloud "
                         "console shows it)") from None
    if not host:
        raise UsageError("--cloud-id is not a Cloud ID (name:base64, as the Elastic Cloud "
                         "console shows it)")
    if not es_uuid:
        raise UsageError("--cloud-id names no Elasticsearch cluster (its es-uuid part is empty)")
    if not 0 < port < 65536:
        raise UsageError(f"--cloud-id names port {port}, out of range")
    _host("--cloud-id", f"{es_uuid}.{host}")
    return f"https://{es_uuid}.{host}:{port}"


def _base_url(options):
    if options.cloud_id is not None:
        given = [name for name, value in (("--url", options.url), ("-H", options.hostname),
                                          ("-P", options.port)) if value is not None]
        if given:
            raise UsageError(f"--cloud-id names the cluster: give no {' or '.join(given)} with it")
        return cloud_id_url(options.cloud_id), "", ""
    # The URL may carry a password: messages never quote it.
    try:
        url, user, password = split_url_userinfo((options.url or DEFAULT_URL).strip())
        parts = urlsplit(url)
        url_port = parts.port
    except ValueError:
        raise UsageError("--url is not a valid URL (http(s)://host[:port][/prefix])") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("--url must be http(s)://host[:port][/prefix]"
                         + (f", not {clean(parts.scheme, 20)}://..." if parts.scheme else ""))
    if parts.query or parts.fragment or url.rstrip().endswith(("?", "#")):
        # Every request path is appended to the URL: a query would end up
        # inside the path (/es?x=1/_snapshot), asking something else.
        raise UsageError("--url takes no query string or fragment (http(s)://host[:port][/prefix])")
    host, port = options.hostname or parts.hostname, options.port or url_port
    host = _host("-H" if options.hostname else "--url", host)
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range")
    netloc = f"{host}:{port}" if port else host
    return urlunsplit(parts._replace(netloc=netloc)), user, password


# Running snapshots are judged by --running-*, not by a level.
MAPPABLE_STATES = tuple(s for s in DEFAULT_STATE_MAP if s != "IN_PROGRESS")


def _state_map(entries):
    """STATE=LEVEL pairs; a typo (PARITAL=ok) is named, never silently ignored."""
    mapping = {}
    for entry in entries or ():
        state, _, level = entry.partition("=")
        state = state.strip().upper()
        level = ALIASES.get(level.strip().lower(), level.strip().lower())
        if not state or level not in LEVELS:
            raise UsageError(f"--state-map {entry!r}: use STATE=ok|warning|critical|unknown")
        if state == "IN_PROGRESS":
            raise UsageError("--state-map IN_PROGRESS: running snapshots are judged by "
                             "--running-warning/--running-critical")
        if state not in MAPPABLE_STATES:
            raise UsageError(f"--state-map {entry!r}: unknown state {state!r} "
                             f"(one of {', '.join(MAPPABLE_STATES)})")
        mapping[state] = LEVELS[level]
    return mapping


def _upper_bound(spec):
    """The spec itself if it is a plain "alert above N" range, else None."""
    limit = nagiosplugin.Range(spec)
    if limit.invert or limit.start != 0 or limit.end == float("inf"):
        return None
    return spec


def _plain_order(low_option, low_text, high_option, high_text):
    """-w 2d -c 1d: WARNING could never fire.  Only plain durations are
    compared; explicit Nagios ranges (with ':' or '@') stay free."""
    if any(c in text for text in (low_text, high_text) for c in ":@~"):
        return
    low, high = float(parse_age_range(low_text)), float(parse_age_range(high_text))
    if low >= high:
        # The fix is in the values, not in the range syntax: swapped ones are
        # swapped back, equal ones need a smaller warning.
        fix = (f"swap them: {low_option} {high_text} {high_option} {low_text}" if low > high
               else f"give {low_option} a smaller age than {high_option}")
        raise UsageError(f"{low_option} {low_text} is not below {high_option} {high_text}: "
                         f"WARNING could never fire ({fix})")


def _aws_region(options, base_url, creds, environ):
    """The region --aws-sigv4 signs for: --aws-region, the endpoint's own
    name, then the environment; None leaves it to the AWS profile.

    The endpoint's name comes before the environment: a region that differs
    from it can only fail, and AWS_REGION may be set on the monitoring host
    for another purpose while it watches domains in several regions."""
    if not options.aws_sigv4:
        if options.aws_region is not None:
            raise UsageError("--aws-region needs --aws-sigv4")
        return None
    if creds.authorization:
        # Both would need the Authorization header; the engine's own users
        # (fine-grained access control) work without --aws-sigv4.
        raise UsageError("--aws-sigv4 signs the Authorization header itself: give no --user, "
                         "API key or bearer token with it")
    region = (options.aws_region or "").strip()
    if options.aws_region is not None and not REGION_FORMAT.fullmatch(region):
        raise UsageError(f"--aws-region {clean_reason(region, 40)!r} is not an AWS region (e.g. eu-west-1)")
    return (region or region_from_host(urlsplit(base_url).hostname)
            or environ.get("AWS_REGION", "").strip() or environ.get("AWS_DEFAULT_REGION", "").strip() or None)


def _repositories(values):
    """-r alpha,beta works like -r alpha -r beta (Elasticsearch takes comma lists)."""
    names = (part.strip() for value in values or () for part in value.split(","))
    names = tuple(dict.fromkeys(name for name in names if name))
    for name in names:
        try:
            name.encode("utf-8")  # bytes that are not UTF-8 arrive as lone surrogates
        except UnicodeEncodeError:
            raise UsageError("-r takes a name in UTF-8 (it is part of the request URL)") from None
    return names


def _tls(options):
    if options.insecure and options.ca_cert:
        raise UsageError("--insecure and --ca-cert contradict each other")
    for path in (options.ca_cert, options.client_cert, options.client_key):
        if path and not os.path.exists(path):
            raise UsageError(f"{path} does not exist")
    if options.client_key and not options.client_cert:
        raise UsageError("--client-key needs --client-cert")
    for path in (options.client_key, options.client_cert):
        if path and _encrypted_key(path):
            # OpenSSL would ask for the passphrase on the terminal, or fail
            # with a message that does not say why.
            raise UsageError(f"the key in {path} is encrypted: give an unencrypted key "
                             "(openssl pkey -in KEY -out PLAIN), readable only by the monitoring user")
    verify = False if options.insecure else (options.ca_cert or True)
    cert = options.client_cert
    if options.client_cert and options.client_key:
        cert = (options.client_cert, options.client_key)
    return verify, cert


def _encrypted_key(path):
    try:
        with open(path, "rb") as handle:
            head = handle.read(64 * 1024)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    return b"ENCRYPTED PRIVATE KEY" in head or b"Proc-Type: 4,ENCRYPTED" in head


_COUNT_RANGE = re.compile(r"@?(?:(?:[0-9]+|~):)?[0-9]*")


def _count_range(option, text):
    """A Nagios range of counts (no durations), or None."""
    if text is None:
        return None
    text = text.strip()
    try:
        if not _COUNT_RANGE.fullmatch(text) or not re.search(r"[0-9]", text):
            raise ValueError
        nagiosplugin.Range(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a range of counts (e.g. 2, 3:, @1:5)") from None
    return text


def _failed_in_last(options):
    count = options.failed_in_last
    if count is None:
        if options.failed_recent_warning or options.failed_recent_critical:
            raise UsageError("--failed-recent-warning/--failed-recent-critical need --failed-in-last N")
        return 0
    if not 1 <= count <= 100:
        raise UsageError(f"--failed-in-last {count}: give 1 to 100 snapshots")
    return count


def state_file_options(options):
    """(path, --notify-every seconds or None, -t seconds) of --state-file.

    Only the nagios format: a JSON document or an exposition is read by a
    program on every run, and a run that printed nothing would starve it."""
    if options.state_file is None:
        if options.notify_every is not None:
            raise UsageError("--notify-every needs --state-file")
        return None, None, None
    if options.format != "nagios":
        raise UsageError(f"--state-file needs --format nagios: a program reads --format "
                         f"{options.format} on every run, so it must be printed every run")
    if not options.state_file.strip() or os.path.isdir(options.state_file):
        raise UsageError("--state-file takes a file name (its directory must exist)")
    try:
        every = parse_duration(options.notify_every) if options.notify_every is not None else None
        timeout = parse_duration(options.timeout)
    except DurationError as exc:
        raise UsageError(f"--notify-every: {exc}" if options.notify_every else str(exc)) from None
    if every is not None and every < 1:
        raise UsageError("--notify-every must be 1s or longer")
    return options.state_file, every, timeout


def parse_settings(argv, environ):
    options = build_parser().parse_args(argv)
    state_file_options(options)  # kept by paging.py in the process around the check
    try:
        warning = parse_age_range(options.warning)
        critical = parse_age_range(options.critical)
        # Defaults: the -w/-c limits when they are plain "older than" ones;
        # a lower-bounded or inverted age range says nothing about run time.
        running_warning = (parse_age_range(options.running_warning) if options.running_warning
                           else _upper_bound(warning))
        running_critical = (parse_age_range(options.running_critical) if options.running_critical
                            else _upper_bound(critical))
        _plain_order("-w", options.warning, "-c", options.critical)
        if options.running_warning and options.running_critical:
            _plain_order("--running-warning", options.running_warning,
                         "--running-critical", options.running_critical)
    except DurationError as exc:
        raise UsageError(str(exc)) from None
    timeout = parse_timeout(options.timeout)
    base_url, url_user, url_password = _base_url(options)
    try:
        creds = load_credentials(options, environ, url_user, url_password)
    except CredentialError as exc:
        raise UsageError(str(exc)) from None
    verify, cert = _tls(options)
    aws_region = _aws_region(options, base_url, creds, environ)
    notes = list(creds.notes)
    if verify is False and base_url.startswith("https:"):  # plain HTTP verifies nothing anyway
        notes.append("TLS certificate verification is disabled (--insecure)")
    if options.password is not None:
        notes.append("--password is visible to other local users; prefer "
                     f"${PASSWORD_ENV} or --password-file")
    state_map = _state_map(options.state_map) or None
    verbose = min(options.verbose, 3)
    query = Query(
        repositories=_repositories(options.repository),
        window_s=_window_s(critical, running_critical),
        sizes=not options.no_size,
        policy=(options.slm_policy or "").strip(), slm=options.slm, health=options.health,
        successes=_successes(state_map),
        history=verbose >= 1, recent=_failed_in_last(options),
        verbose=verbose, format=options.format,
        # --state-file: the mail names the cluster, whose name only GET / gives.
        cluster_name=options.state_file is not None,
    )
    return Settings(
        base_url=base_url,
        warning=warning, critical=critical, timeout=timeout, query=query,
        authorization=creds.authorization, verify=verify, cert=cert,
        use_env_proxy=not options.no_proxy, state_map=state_map, notes=tuple(notes),
        secrets=tuple(creds.secrets) + tuple(s for s in (url_password,) if s),
        running_warning=running_warning, running_critical=running_critical,
        streak_warning=_count_range("--failed-streak-warning", options.failed_streak_warning),
        streak_critical=_count_range("--failed-streak-critical", options.failed_streak_critical),
        no_snapshots_state=LEVELS[options.no_snapshots_state],
        empty_snapshot_state=LEVELS[options.empty_snapshot_state],
        recent_warning=_count_range("--failed-recent-warning", options.failed_recent_warning),
        recent_critical=_count_range("--failed-recent-critical", options.failed_recent_critical),
        aws_sigv4=options.aws_sigv4, aws_region=aws_region,
    )


class Peeked(NamedTuple):
    """What is known of a command line before (or without) its full parse."""
    timeout: float = DEFAULT_TIMEOUT
    format: str = "nagios"
    repositories: Tuple[str, ...] = ()
    informational: bool = False  # --help, --version, --print-icinga-conf


def peek(argv):
    """-t, --format and -r by the real parser's rules (combined short
    options such as -vt15, --opt=value, "--"), for the supervising parent
    and for the output of a usage error.  Tolerant: a value that is wrong
    here gives the default, and the full parse reports it.  Prints nothing.
    """
    parser = build_parser()
    for action in parser._actions:  # values are judged below, or by the full parse
        if action.dest != "help":
            action.type, action.choices = None, None
    def quiet_exit(status=0, message=None):
        raise HelpShown()
    parser._print_message = lambda *args, **kwargs: None
    parser.print_help = lambda *args, **kwargs: None
    parser.exit = quiet_exit
    try:
        options, _ = parser.parse_known_args(argv)
    except HelpShown:
        return Peeked(informational=True)
    except UsageError:
        return Peeked()
    fmt = options.format if options.format in FORMATS else "nagios"
    try:
        timeout = parse_timeout(options.timeout)
    except UsageError:
        timeout = DEFAULT_TIMEOUT
    try:
        repositories = _repositories(options.repository)
    except UsageError:
        repositories = ()
    return Peeked(timeout, fmt, repositories)
