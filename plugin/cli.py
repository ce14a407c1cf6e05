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
from .options import DEFAULT_TIMEOUT, PROG, HelpShown, UsageError, parse_settings, peek
from .output import LOG_BUDGET, LONG_OUTPUT_BUDGET, failure, nagios_output, report, usage_failure
from .paging import page, tell
from .resource import SnapshotResource
from .summary import SnapshotSummary
from .supervisor import supervise, timeout_line
from .wording import clean_reason, use_locale, use_redactor


def build_check(settings, client, now_ms=None):
    resource = SnapshotResource(client, settings.query, now_ms=now_ms)
    check = nagiosplugin.Check(
        resource,
        RankedResults(),
        ClusterContext("cluster"),
        RegisteredContext("registered"),
        RepositoryContext("repository", settings.state_map, settings.policy, settings.no_snapshots_state,
                          settings.empty_snapshot_state),
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
        SnapshotSummary(resource, settings.notes, LONG_OUTPUT_BUDGET),
    )
    check.name = resource.name  # not Check(name=...): nagiosplugin 1.3.2 lacks it
    return check


def make_client(settings, deadline, redact):
    from .client import EsClient  # requests is imported only for a real run
    signer = None
    if settings.aws_sigv4:
        from .aws import Signer  # botocore itself only at the first request
        signer = Signer(settings.aws_region, redact)
    return EsClient(settings.base_url, authorization=settings.authorization,
                    verify=settings.verify, cert=settings.cert,
                    use_env_proxy=settings.use_env_proxy, deadline=deadline, redact=redact,
                    signer=signer)


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


def _print_report(fmt, text):
    if fmt == "openmetrics" and isinstance(sys.stdout, _Boundary):
        # The exposition format is UTF-8 whatever the locale: a repository
        # name need not be ASCII, and a cron job's locale may not be UTF-8.
        sys.stdout.utf8 = True
    print(text, end="" if text.endswith("\n") else "\n")


def _end(rendered, code, fmt="nagios"):
    """Print what output.py rendered, (stdout, stderr), and exit with ``code``."""
    out, err = rendered
    _print_report(fmt, out)
    if err:
        print(err, end="", file=sys.stderr)
    sys.stdout.flush()
    sys.exit(code)


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


def main(argv=None, environ=None):
    """The plugin.  From the command line (no arguments given), the run is
    supervised: see supervisor.py for why the deadline needs a process."""
    if argv is None and environ is None:
        _stdout_or_exit()
        if hasattr(os, "fork"):
            began = page(sys.argv[1:], DEFAULT_TIMEOUT)  # --state-file: the bookkeeping around the run
            supervise(lambda started: _run(sys.argv[1:], os.environ, started), sys.argv[1:], began)
    _run(argv, environ)


def _stdout_or_exit():
    """``check_es_snapshot >&-``: no output can reach anyone, and a pipe made
    later would take descriptor 1.  UNKNOWN (exit 3) and the line on
    stderr, never a traceback and Python's exit 1 (WARNING); SECURITY.md."""
    try:
        os.fstat(1)
        if sys.stdout is not None:
            return
    except OSError:
        pass
    try:
        os.write(2, failure("standard output is closed", "nagios")[0].encode())
    except OSError:
        pass
    os._exit(3)


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
        peeked = peek(argv if argv is not None else sys.argv[1:])
        _end(failure("interrupted (Ctrl-C or SIGINT)", peeked.format, peeked.repositories), 3, peeked.format)
    finally:
        try:
            boundary.flush()
        finally:
            sys.stdout = boundary.stream


def _nagios(check, verbose):
    """Run the check and print it in the Nagios format, within 8 KB by
    output.nagios_output's rules.  nagiosplugin's Runtime still collects the
    log at the verbosity asked; its Output would put the perfdata last and
    whole, where the 8 KB cut takes it away."""
    runtime = nagiosplugin.Runtime()
    runtime.verbose = verbose
    runtime.check = check
    check()
    long_output = check.verbose_str if verbose else []
    if isinstance(long_output, str):
        long_output = long_output.splitlines()
    print(nagios_output(_status(check), list(long_output),
                        runtime.logchan.stream.getvalue(), check.perfdata, verbose), end="")
    sys.exit(check.exitcode)


def _status(check):
    summary = check.summary_str.strip()
    return f"{check.name.upper()} {str(check.state).upper()}" + (f" - {summary}" if summary else "")


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
        # The format asked for, by the parser's own rules: a collector's
        # .prom file or a script's JSON stays what it reads.
        peeked = peek(argv if argv is not None else sys.argv[1:])
        _end(usage_failure(str(exc), peeked.format, PROG, peeked.repositories), 3, peeked.format)
    redact = Redactor(settings.secrets)
    boundary.redact = redact
    use_redactor(redact)
    log = logging.getLogger("nagiosplugin.es_snapshot")
    log.addFilter(_LogFilter(redact, settings.verbose))
    deadline = Deadline(settings.timeout, started=started)
    deadline.arm()
    check = None
    try:
        check = build_check(settings, make_client(settings, deadline, redact))
        if settings.format != "nagios":
            check()
            deadline.disarm()  # the answer is in: no alarm while the report is written
            _print_report(settings.format, report(settings.format, check, check.resources[0], settings.notes))
            sys.exit(check.exitcode)
        _nagios(check, settings.verbose)
    except DeadlineExceeded:
        _end(failure(timeout_line(settings.timeout), settings.format, settings.repositories), 3, settings.format)
    except MemoryError:
        _end(failure("out of memory while reading the answer", settings.format, settings.repositories), 3,
             settings.format)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        message = f"internal error: {clean_reason(redact(f'{type(exc).__name__}: {exc}'), 240)}"
        if settings.verbose >= 3 and settings.format == "nagios":
            print(f"{NAME} UNKNOWN - {message}")
            print(redact(traceback.format_exc()))
            sys.exit(3)
        _end(failure(message, settings.format, settings.repositories), 3, settings.format)
    finally:
        deadline.disarm()
        tell(check, redact)  # --state-file: the cluster's name and the problems
