"""The absolute deadline: a small parent process that owns stdout and the clock.

A signal handler runs only between Python bytecodes of the main thread, so a
SIGALRM cannot end a run that is blocked in C: ``getaddrinfo`` waiting for a
resolver that never answers (28 s instead of ``-t``), a ``json.loads`` of a
huge body, the freeing of a huge object.  No thread helps either, since such
C code may hold the GIL.  So a real run forks: the child does the check and
writes its output into a pipe; the parent only waits, and at ``-t`` kills the
child and writes the one timeout line itself.  The parent also bounds what
reaches Nagios (8 KB, 64 KB for JSON), survives a stdout that cannot be
written (exit 3, never Python's 120) and turns Ctrl-C or a child killed by
the kernel (out of memory) into one UNKNOWN line.

The child is forked before anything is read or connected, so it shares
nothing but the interpreter; the parent never reads a secret.
"""
import os
import select
import signal
import sys
import time

from . import NAME
from .durations import DurationError, parse_duration

# Nagios keeps 8192 bytes of plugin output; a JSON document is for scripts.
NAGIOS_OUTPUT_LIMIT = 8000
JSON_OUTPUT_LIMIT = 64 * 1024
# The parent stops the child this long before -t, so that its own line is
# out before -t even on a loaded host.
KILL_AHEAD_S = 0.05


def process_age():
    """Seconds since this process started (interpreter start-up included)."""
    try:
        with open("/proc/self/stat") as handle:
            fields = handle.read().rpartition(")")[2].split()
        with open("/proc/uptime") as handle:
            uptime = float(handle.read().split()[0])
        age = uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0
    return min(2.0, max(0.0, age))  # a suspended host must not eat the budget


def peek(argv, default_timeout):
    """(-t seconds, --format) from argv, without argparse's side effects.

    A wrong value here only means the default; the child reports it as a
    usage error within milliseconds.
    """
    timeout, fmt = default_timeout, "nagios"
    values = {}
    items = list(argv)
    for index, item in enumerate(items):
        for name in ("-t", "--timeout", "--format"):
            if item == name and index + 1 < len(items):
                values[name.lstrip("-")[0]] = items[index + 1]
            elif item.startswith(name + "=") and name.startswith("--"):
                values[name.lstrip("-")[0]] = item.partition("=")[2]
            elif name == "-t" and item.startswith("-t") and len(item) > 2:
                values["t"] = item[2:]
    try:
        seconds = parse_duration(values.get("t", ""))
        if 1 <= seconds <= 3600:
            timeout = seconds
    except DurationError:
        pass
    if values.get("f") in ("json", "openmetrics"):
        fmt = values["f"]
    return timeout, fmt


def timeout_line(seconds):
    return f"plugin timed out after {seconds:g}s (-t)"


def failure_output(message, fmt):
    """One UNKNOWN status line, or the JSON document or exposition saying the same."""
    if fmt == "json":
        from .report import json_failure  # stdlib and nagiosplugin only
        return json_failure(message, 3) + "\n"
    if fmt == "openmetrics":  # the file a textfile collector reads stays an exposition
        from .openmetrics import openmetrics_failure
        return openmetrics_failure(3, ()) + "\n"
    return f"{NAME} UNKNOWN - {message}\n"


def _limit(fmt):
    return NAGIOS_OUTPUT_LIMIT if fmt == "nagios" else JSON_OUTPUT_LIMIT


def bound(output, fmt):
    """At most what the reader keeps: Nagios 8 KB, a cut at a line end; a
    JSON document whole or not at all; other formats (one metric a line)
    cut at a line end, to 64 KB."""
    limit = _limit(fmt)
    if len(output) <= limit:
        return output
    if fmt == "json":  # a cut document is no document
        return failure_output(f"output larger than {limit // 1024} KB", fmt).encode()
    marker = b"\n... output cut (Nagios keeps 8 KB)\n" if fmt == "nagios" else b"\n"
    cut = output.rfind(b"\n", 0, limit - len(marker))
    cut = cut if cut > 0 else limit - len(marker)
    return output[:cut] + marker


def emit(data):
    """Write to stdout and end with 3 if that fails (/dev/full, closed pipe)."""
    try:
        view = memoryview(data)
        while view:
            written = os.write(1, view)
            view = view[written:]
    except OSError:
        os._exit(3)


def supervise(child, argv, default_timeout, started=None):
    """Run ``child()`` (which must end in SystemExit) under the deadline.

    Never returns, unless no child can be forked: then the caller runs the
    check in this process, with the signal-based deadline only.  ``started``:
    when the run began, if this process was forked after that (paging.py).
    """
    started = time.monotonic() - process_age() if started is None else started
    timeout, fmt = peek(argv, default_timeout)
    sys.stdout.flush()
    try:
        reader, writer = os.pipe()
        pid = os.fork()
    except OSError:
        return  # no process to spare: the caller runs the check itself
    if pid == 0:  # the child: stdout is the pipe, the parent the clock
        os.close(reader)
        os.dup2(writer, 1)
        os.close(writer)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent reports Ctrl-C
        code = 3
        try:
            child(started)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) and 0 <= exc.code <= 3 else 3
        except BaseException:  # noqa: BLE001 - nothing may escape the child
            code = 3
        try:
            sys.stdout.flush()
        except (OSError, ValueError):
            code = 3
        os._exit(code)  # no clean-up of a huge heap: the parent waits for this
    os.close(writer)
    # Killed by the monitoring system's own timeout: take the child along.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_stop(pid), os._exit(3)))
    try:
        output, status = _collect(pid, reader, started + timeout - KILL_AHEAD_S, fmt)
    except KeyboardInterrupt:
        _stop(pid)
        emit(failure_output("interrupted (Ctrl-C or SIGINT)", fmt).encode())
        os._exit(3)
    if status is None:
        _stop(pid)
        emit(failure_output(timeout_line(timeout), fmt).encode())
        os._exit(3)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        message = f"internal error: the check was killed by signal {-code}"
        if -code == signal.SIGKILL:
            message += " (out of memory?)"
        emit(failure_output(message, fmt).encode())
        os._exit(3)
    if not output.strip():
        emit(failure_output("internal error: the check printed nothing", fmt).encode())
        os._exit(3)
    bounded = bound(output, fmt)
    if fmt == "json" and bounded is not output:
        code = 3  # the document was replaced by one saying it was too large
    emit(bounded)
    os._exit(code if 0 <= code <= 3 else 3)


def _collect(pid, reader, deadline, fmt):
    """(output, wait status) of the child, or (output, None) at the deadline."""
    limit = _limit(fmt) + 1
    chunks, size, open_ = [], 0, True
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), None
        if open_:
            ready, _, _ = select.select([reader], [], [], min(left, 0.5))
            if ready:
                data = os.read(reader, 65536)
                if not data:
                    open_ = False
                elif size < limit:  # keep only what can be shown
                    chunks.append(data[: limit - size])
                    size += len(chunks[-1])
                continue
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if open_:  # drain what the child wrote just before it ended
                while size < limit:
                    data = os.read(reader, 65536)
                    if not data:
                        break
                    chunks.append(data[: limit - size])
                    size += len(chunks[-1])
            return b"".join(chunks), status
        if not open_:
            time.sleep(min(left, 0.01))


def _stop(pid):
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass

