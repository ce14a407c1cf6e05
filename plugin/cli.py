"""Running the check: assemble it from Settings, guard the run, print."""
import io
import logging
import os
import sys
import traceback
import warnings

import nagiosplugin

from . import NAME
from .contexts import (AgeContext, ClusterContext, HealthContext, RankedResults,
                       RecentContext, RegisteredContext, RepositoryContext, RunningContext,
                       ShownThresholdContext, SkewContext, SlmContext, StreakContext)
from .credentials import Redactor, secrets_in_argv
from .deadline import Deadline, DeadlineExceeded
from .openmetrics import openmetrics_failure, openmetrics_report
from .options import DEFAULT_TIMEOUT, PROG, HelpShown, UsageError, parse_settings
from .report import json_failure, json_report
from .resource import SnapshotResource
from .summary import SnapshotSummary
from .supervisor import supervise, timeout_line
from .wording import clean_reason, use_locale, use_redactor

# Nagios keeps 8192 bytes of plugin output; the log at -vv/-vvv gets this much
# (the long output gets summary.LONG_OUTPUT_BUDGET).
LOG_BUDGET = 2000


def build_check(settings, client, now_ms=None):
    resource = SnapshotResource(client, settings.query, now_ms=now_ms)
    check = nagiosplugin.Check(
        resource,
        RankedResults(),
        ClusterContext("cluster"),
        RegisteredContext("registered"),
        RepositoryContext("repository", settings.state_map, settings.policy, settings.no_snapshots_state),
        AgeContext("age", settings.warning, settings.critical),
        RunningContext("running", settings.running_warning, settings.running_critical),
        StreakContext("failed_streak", settings.streak_warning, settings.streak_critical),
        SkewContext("skew"),
        RecentContext("failed_recent", settings.recent_warning, settings.recent_critical,
                      count=settings.failed_in_last),
        ShownThresholdContext("repository_age", settings.warning, settings.critical),
        ShownThresholdContext("repository_running", settings.running_warning, settings.running_critical),
        SlmContext("slm", settings.policy),
        HealthContext("health"),
        nagiosplugin.ScalarContext("measure"),  # perfdata only: no thresholds, never judged
        SnapshotSummary(resource, settings.notes),
    )
    check.name = resource.name  # not Check(name=...): nagiosplugin 1.3.2 lacks it
    return check


def make_client(settings, deadline, redact):
    from .client import EsClient  # requests is imported only for a real run
    return EsClient(settings.base_url, authorization=settings.authorization,
                    verify=settings.verify, cert=settings.cert,
                    use_env_proxy=settings.use_env_proxy, deadline=deadline, redact=redact)


class _LogFilter(logging.Filter):
    """Redacts secrets, and stops the log before it pushes output past 8 KB.

    Nagios keeps 8192 bytes of plugin output: the long output (summary.py)
    gets LONG_OUTPUT_BUDGET of them, the log LOG_BUDGET.  Only records the
    verbosity shows count: at -vv the DEBUG lines (-vvv) are dropped by the
    handler, and counted they had used up the budget unseen.
    """

    def __init__(self, redact, verbose=0):
        super().__init__()
        self.redact = redact
        self.used = 0
        self.shown = logging.DEBUG if verbose >= 3 else logging.INFO if verbose == 2 else logging.WARNING

    def filter(self, record):
        if record.levelno < self.shown:
            return False  # the handler would not show it either
        message = self.redact(record.getMessage())
        self.used += len(message) + 1
        if self.used > LOG_BUDGET + len(message) + 1:
            return False
        if self.used > LOG_BUDGET:
            message = "... further log lines dropped (Nagios keeps 8 KB of output)"
        record.msg, record.args = message, ()
        return True


def _report(settings, check):
    if settings.format == "openmetrics":
        return openmetrics_report(check, check.resources[0])
    return json_report(check, check.resources[0], settings.notes)


def _failure(settings, message, code):
    if settings.format == "openmetrics":
        return openmetrics_failure(code, settings.repositories)
    return json_failure(message, code)


def _print_report(settings, text):
    if settings.format == "openmetrics" and isinstance(sys.stdout, _Boundary):
        # The exposition format is UTF-8 whatever the locale: a repository
        # name need not be ASCII, and a cron job's locale may not be UTF-8.
        sys.stdout.utf8 = True
    print(text)


class _Boundary(io.TextIOBase):
    """Standard output as the plugin writes it: held, redacted whole, written.

    Everything printed passes here (status line, long output, log, JSON and
    any format added later), so no secret reaches stdout whichever code
    path printed it.  Held until flushed, so that a secret printed in two
    pieces is still seen whole; written in the stream's encoding with
    replacement, so an ASCII-only locale cannot raise.
    """

    def __init__(self, stream):
        super().__init__()
        self.stream = stream
        self.redact = str
        self.parts = []
        self.utf8 = False  # bytes in UTF-8 whatever the locale (--format openmetrics)

    def writable(self):
        return True

    def write(self, text):
        self.parts.append(str(text))
        return len(text)

    def flush(self):
        if self.parts:
            text, self.parts = self.redact("".join(self.parts)), []
            if self.utf8 and hasattr(self.stream, "buffer"):
                # Not reconfigure(): in the supervised child the stream was
                # made for the original stdout (a file: seekable), now a pipe.
                self.stream.flush()
                self.stream.buffer.write(text.encode("utf-8", "replace"))
            else:
                encoding = getattr(self.stream, "encoding", None) or "utf-8"
                self.stream.write(text.encode(encoding, "replace").decode(encoding))
        # Nothing held and the stream gone (the boundary collected after
        # whoever owned the stream closed it): nothing to flush, no error.
        if not getattr(self.stream, "closed", False):
            self.stream.flush()


def _say(line, code):
    print(f"{NAME} {line}")
    sys.stdout.flush()
    sys.exit(code)


def _unknown(message, settings):
    if settings.format != "nagios":
        _print_report(settings, _failure(settings, message, 3))
        sys.stdout.flush()
        sys.exit(3)
    _say(f"UNKNOWN - {message}", 3)


def main(argv=None, environ=None):
    """The plugin.  From the command line (no arguments given), the run is
    supervised: see supervisor.py for why the deadline needs a process."""
    if argv is None and environ is None and hasattr(os, "fork"):
        supervise(lambda started: _run(sys.argv[1:], os.environ, started), sys.argv[1:], DEFAULT_TIMEOUT)
    _run(argv, environ)


def _run(argv, environ, started=None):
    boundary = _Boundary(sys.stdout)
    sys.stdout = boundary
    # nagiosplugin 1.3.2 (Debian 12's) bound sys.stdout when it was imported,
    # which would bypass the boundary and its redaction; None prints to the
    # current sys.stdout, as 1.4 does by default.
    nagiosplugin.Runtime.stdout = None
    try:
        _check(argv, os.environ if environ is None else environ, started, boundary)
    except KeyboardInterrupt:
        _say("UNKNOWN - interrupted (Ctrl-C or SIGINT)", 3)
    finally:
        try:
            boundary.flush()
        finally:
            sys.stdout = boundary.stream


def _check(argv, environ, started, boundary):
    # Icinga reads stderr into the check output: no warnings, no lastResort log.
    warnings.simplefilter("ignore")
    logging.getLogger().addHandler(logging.NullHandler())
    # UTF-8 mode without PYTHONUTF8: Python chose it because the locale was C.
    use_locale(environ, environ is os.environ and sys.flags.utf8_mode and not environ.get("PYTHONUTF8"))
    boundary.redact = Redactor(secrets_in_argv(argv if argv is not None else sys.argv[1:], environ))
    try:
        settings = parse_settings(argv, environ)
    except HelpShown:
        sys.exit(3)
    except UsageError as exc:
        print(f"{NAME} UNKNOWN - usage: {exc}")
        print(f"Usage: {PROG} [--url URL] [-r NAME] [-w AGE] [-c AGE] [-t SECONDS] ...")
        print(f"See {PROG} --help")
        sys.exit(3)
    redact = Redactor(settings.secrets)
    boundary.redact = redact
    use_redactor(redact)
    log = logging.getLogger("nagiosplugin.es_snapshot")
    log.addFilter(_LogFilter(redact, settings.verbose))
    deadline = Deadline(settings.timeout, started=started)
    deadline.arm()
    try:
        check = build_check(settings, make_client(settings, deadline, redact))
        if settings.format != "nagios":
            check()
            deadline.disarm()  # the answer is in: no alarm while the report is written
            _print_report(settings, _report(settings, check))
            sys.exit(check.exitcode)
        check.main(verbose=settings.verbose)
    except DeadlineExceeded:
        _unknown(timeout_line(settings.timeout), settings)
    except MemoryError:
        _unknown("out of memory while reading the answer", settings)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        line = f"UNKNOWN - internal error: {clean_reason(redact(f'{type(exc).__name__}: {exc}'), 240)}"
        if settings.format == "openmetrics":
            # The file a textfile collector reads stays an exposition (state
            # UNKNOWN); the words go to stderr, which cron mails.
            _print_report(settings, _failure(settings, line, 3))
            print(f"{NAME} {line}", file=sys.stderr)
            sys.exit(3)
        if settings.verbose >= 3:
            print(f"{NAME} {line}")
            print(redact(traceback.format_exc()))
            sys.exit(3)
        _say(line, 3)
    finally:
        deadline.disarm()
