"""The command line: options, their help, and validation into Settings.

The option names are a contract with monitoring configurations (Icinga vars,
Nagios commands): icinga/generate.py derives the CheckCommand from
build_parser(), and tests hold README and --help together.
"""
import argparse
import ipaddress
import os
import re
from collections import namedtuple
from urllib.parse import urlsplit, urlunsplit

import nagiosplugin

from . import __version__
from .contexts import ALIASES, LEVELS
from .credentials import (API_KEY_ENV, BEARER_ENV, PASSWORD_ENV, CredentialError,
                          load_credentials, split_url_userinfo)
from .durations import DurationError, parse_age_range, parse_duration
from .wording import clean, clean_reason

PROG = "check_es_snapshot"
DEFAULT_WARNING = "1d2h"
DEFAULT_CRITICAL = "2d2h"
DEFAULT_TIMEOUT = 10
# The look-back window reaches this far beyond the critical age, so that a
# snapshot just past it is still named with its real age.
WINDOW_SLACK_S = 3600

DESCRIPTION = """\
Checks the snapshot backups of an Elasticsearch (5.x-9.x, Alibaba Cloud
included) or OpenSearch (1.x-3.x) cluster: the state of the newest snapshot
of each repository (by start time) and the age of the newest successful one.
"""

EPILOG = f"""\
AGE takes seconds (3600), durations (90m, 26h, 1d12h; units w d h m s) or a
Nagios range of them (@1h:2h); see
https://www.monitoring-plugins.org/doc/guidelines.html#THRESHOLDFORMAT

States:
  OK        newest snapshot SUCCESS (or IN_PROGRESS) and the newest
            successful one younger than the thresholds
  WARNING   newest snapshot PARTIAL, or the age outside -w
  CRITICAL  newest snapshot FAILED or INCOMPATIBLE; age outside -c; no
            repository registered; a named repository missing; a
            repository without a successful snapshot; cluster unreachable
            (refused, DNS, TLS, timed out) or HTTP 5xx
  UNKNOWN   unrecognised snapshot state; HTTP 401/403; an answer that is
            not what Elasticsearch sends; bad usage; -t reached
  A snapshot running longer than --running-warning/--running-critical
  (default: -w/-c), a failure streak beyond --failed-streak-*, and with
  --slm a stopped SLM or a policy that missed its schedule or failed
  (WARNING), with --health a yellow/red health indicator count as well.
  With several repositories the worst counts (CRITICAL > WARNING >
  UNKNOWN > OK). --state-map changes a state's level, e.g. PARTIAL=ok.

Perfdata (absent when the cluster could not be read):
  age            s  age of the newest successful snapshot (of the stalest
                    repository), with the -w/-c thresholds
  duration       s  run time of the newest completed snapshot
  size           B  total size of the newest completed snapshot
  shards_failed     failed shards of the newest completed snapshot
  running        s  how long the newest snapshot has been running (0: none)
  failed_streak     completed snapshots in a row that were no SUCCESS

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


class Settings(namedtuple("Settings", [
        "base_url", "repositories", "warning", "critical", "timeout", "authorization",
        "verify", "cert", "use_env_proxy", "state_map", "sizes", "verbose", "notes", "secrets",
        "running_warning", "running_critical", "streak_warning", "streak_critical",
        "policy", "slm", "health", "format"],
        defaults=(None, True, None, True, None, True, 0, (), (),
                  None, None, None, None, "", False, False, "nagios"))):
    """Everything the command line decided; immutable (see snapshots.py on namedtuple)."""
    __slots__ = ()

    @property
    def window_s(self):
        """Look-back window: what -c and --running-critical can still judge.

        None when either is no upper bound: then every snapshot is needed.
        """
        ends = []
        for spec in (self.critical, self.running_critical or self.critical):
            limit = nagiosplugin.Range(spec)
            if limit.invert or limit.end == float("inf"):
                return None
            ends.append(limit.end)
        return int(max(ends)) + WINDOW_SLACK_S


def build_parser():
    # allow_abbrev=False: "--pass=x" must not silently mean --password.
    p = Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG, add_help=False, allow_abbrev=False,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    conn = p.add_argument_group("connection")
    conn.add_argument("--url", default="http://localhost:9200",
                      help="base URL of the cluster, may carry a path prefix "
                           "(default: %(default)s)")
    conn.add_argument("-H", "--hostname", help="host name, replaces the one in --url")
    conn.add_argument("-P", "--port", type=int, help="port, replaces the one in --url")
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
    auth.add_argument("--ca-cert", metavar="PATH",
                      help="CA certificate file or directory to verify the server")
    auth.add_argument("--client-cert", metavar="FILE", help="client certificate (PEM)")
    auth.add_argument("--client-key", metavar="FILE", help="key of the client certificate")
    auth.add_argument("--insecure", action="store_true",
                      help="do not verify the server certificate")
    sel = p.add_argument_group("what to check")
    sel.add_argument("-r", "--repository", action="append", metavar="NAME",
                     help="repository to check, repeatable (default: all registered)")
    sel.add_argument("-w", "--warning", default=DEFAULT_WARNING, metavar="AGE",
                     help="age of the newest successful snapshot that warns "
                          "(default: %(default)s)")
    sel.add_argument("-c", "--critical", default=DEFAULT_CRITICAL, metavar="AGE",
                     help="age that is critical (default: %(default)s)")
    sel.add_argument("--state-map", action="append", metavar="STATE=LEVEL",
                     help="level of a snapshot state: ok, warning, critical or "
                          "unknown, repeatable (e.g. PARTIAL=ok)")
    sel.add_argument("--no-size", action="store_true",
                     help="skip collecting snapshot sizes (no _status request)")
    sel.add_argument("--running-warning", metavar="AGE",
                     help="run time of the newest IN_PROGRESS snapshot that warns "
                          "(default: as -w)")
    sel.add_argument("--running-critical", metavar="AGE",
                     help="run time that is critical (default: as -c)")
    sel.add_argument("--failed-streak-warning", metavar="RANGE",
                     help="failed snapshots in a row that warn, e.g. 2 (default: none)")
    sel.add_argument("--failed-streak-critical", metavar="RANGE",
                     help="failed snapshots in a row that are critical (default: none)")
    pol = p.add_argument_group("snapshot lifecycle management")
    pol.add_argument("--slm-policy", metavar="NAME",
                     help="only snapshots taken by this SLM (Elasticsearch) or snapshot "
                          "management (OpenSearch) policy")
    pol.add_argument("--slm", action="store_true",
                     help="also read SLM status and policies (ES >= 7.4): stopped, "
                          "missed schedule or failed last run warn")
    pol.add_argument("--health", action="store_true",
                     help="also judge the slm and repository_integrity indicators of "
                          "the health report (ES >= 8.7)")
    misc = p.add_argument_group("output")
    misc.add_argument("--format", choices=("nagios", "json"), default="nagios",
                      help="nagios: status line and perfdata; json: one JSON "
                           "document, same exit code (default: %(default)s)")
    misc.add_argument("-v", "--verbose", action="count", default=0,
                      help="more detail, up to -vvv (see Verbosity)")
    misc.add_argument("-V", "--version", action="version", version=f"{PROG} {__version__}")
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


def _base_url(options):
    # The URL may carry a password: messages never quote it.
    try:
        url, user, password = split_url_userinfo(options.url.strip())
        parts = urlsplit(url)
        url_port = parts.port
    except ValueError:
        raise UsageError("--url is not a valid URL (http(s)://host[:port][/prefix])") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError("--url must be http(s)://host[:port][/prefix]"
                         + (f", not {clean(parts.scheme, 20)}://..." if parts.scheme else ""))
    host, port = options.hostname or parts.hostname, options.port or url_port
    host = _host("-H" if options.hostname else "--url", host)
    if port is not None and not 0 < port < 65536:
        raise UsageError(f"port {port} is out of range")
    netloc = f"{host}:{port}" if port else host
    return urlunsplit(parts._replace(netloc=netloc)), user, password


def _state_map(entries):
    mapping = {}
    for entry in entries or ():
        state, _, level = entry.partition("=")
        level = ALIASES.get(level.strip().lower(), level.strip().lower())
        if not state.strip() or level not in LEVELS:
            raise UsageError(f"--state-map {entry!r}: use STATE=ok|warning|critical|unknown")
        mapping[state.strip().upper()] = LEVELS[level]
    return mapping


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


_COUNT_RANGE = re.compile(r"@?(?:(?:\d+|~):)?\d*")


def _count_range(option, text):
    """A Nagios range of counts (no durations), or None."""
    if text is None:
        return None
    text = text.strip()
    try:
        if not _COUNT_RANGE.fullmatch(text) or not re.search(r"\d", text):
            raise ValueError
        nagiosplugin.Range(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a range of counts (e.g. 2, 3:, @1:5)") from None
    return text


def parse_settings(argv, environ):
    options = build_parser().parse_args(argv)
    try:
        warning = parse_age_range(options.warning)
        critical = parse_age_range(options.critical)
        running_warning = parse_age_range(options.running_warning) if options.running_warning else warning
        running_critical = parse_age_range(options.running_critical) if options.running_critical else critical
        timeout = parse_duration(options.timeout)
    except DurationError as exc:
        raise UsageError(str(exc)) from None
    if not 1 <= timeout <= 3600:
        raise UsageError("--timeout must be between 1 and 3600 seconds")
    base_url, url_user, url_password = _base_url(options)
    try:
        creds = load_credentials(options, environ, url_user, url_password)
    except CredentialError as exc:
        raise UsageError(str(exc)) from None
    verify, cert = _tls(options)
    notes = list(creds.notes)
    if verify is False:
        notes.append("TLS certificate verification is disabled (--insecure)")
    if options.password is not None:
        notes.append("--password is visible to other local users; prefer "
                     f"${PASSWORD_ENV} or --password-file")
    return Settings(
        base_url=base_url,
        repositories=tuple(dict.fromkeys(r.strip() for r in options.repository or () if r.strip())),
        warning=warning, critical=critical, timeout=timeout,
        authorization=creds.authorization, verify=verify, cert=cert,
        use_env_proxy=not options.no_proxy, state_map=_state_map(options.state_map) or None,
        sizes=not options.no_size, verbose=min(options.verbose, 3), notes=tuple(notes),
        secrets=tuple(creds.secrets) + tuple(s for s in (url_password,) if s),
        running_warning=running_warning, running_critical=running_critical,
        streak_warning=_count_range("--failed-streak-warning", options.failed_streak_warning),
        streak_critical=_count_range("--failed-streak-critical", options.failed_streak_critical),
        policy=(options.slm_policy or "").strip(), slm=options.slm, health=options.health,
        format=options.format,
    )
