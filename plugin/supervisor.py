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

from .options import peek
from .output import bound, failure, limit

# The parent stops the child this long before -t, so that its own line is
# out before -t even on a loaded host.
KILL_AHEAD_S = 0.05
# Signals that end the parent (the monitoring system's timeout sends SIGTERM,
# a closed terminal SIGHUP, a stray kill or alarm the others): each still
# gives the one UNKNOWN line, document or exposition, never empty output.
ENDING_SIGNALS = ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGALRM", "SIGQUIT")
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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


def timeout_line(seconds):
    return f"plugin timed out after {seconds:g}s (-t)"


def emit(data):
    """Write to stdout and end with 3 if that fails (/dev/full, closed pipe)."""
    try:
        view = memoryview(data)
        while view:
            written = os.write(1, view)
            view = view[written:]
    except OSError:
        os._exit(3)


def _say(message, peeked):
    """The parent's own failure: stdout in the run's format, the line on
    stderr where the format wants it there (failure in output.py)."""
    out, err = failure(message, peeked.format, peeked.repositories)
    if err:
        try:
            os.write(2, err.encode("utf-8", "replace"))
        except OSError:
            pass  # stderr closed: stdout still says it
    emit(out.encode("utf-8", "replace"))


def _die_with_parent(parent):
    """In the child: the kernel kills it when the parent dies, even by
    SIGKILL, so that no check outlives its supervisor under PID 1 (stuck in
    DNS, say).  Linux prctl; elsewhere a thread polls the parent's pid."""
    try:
        import ctypes  # only in the child: the parent stays cheap to start
        libc = ctypes.CDLL(None, use_errno=True)
        done = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError, ImportError):
        done = False
    if not done:
        import threading

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGKILL)
        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(3)


def supervise(child, argv, started=None):
    """Run ``child()`` (which must end in SystemExit) under the deadline.

    Never returns, unless no child is needed (--help, --version: not a check,
    never cut) or none can be forked: then the caller runs this in-process,
    with the signal-based deadline only.  ``started``: when the run began,
    if this process was forked after that (paging.py).
    """
    started = time.monotonic() - process_age() if started is None else started
    peeked = peek(argv)
    if peeked.informational:
        return
    sys.stdout.flush()
    parent = os.getpid()
    pid = None

    def ending(signum, frame):
        # Installed before the fork: a signal in between still has its line.
        if pid:
            _stop(pid)
        _say(f"interrupted by {signal.Signals(signum).name}", peeked)
        os._exit(3)
    ending_signals = [getattr(signal, name) for name in ENDING_SIGNALS if hasattr(signal, name)]
    for signum in ending_signals:
        signal.signal(signum, ending)
    try:
        reader, writer = os.pipe()
        pid = os.fork()
    except OSError:
        for signum in ending_signals:
            signal.signal(signum, signal.SIG_DFL)
        return  # no process to spare: the caller runs the check itself
    if pid == 0:  # the child: stdout is the pipe, the parent the clock
        for signum in ending_signals:
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent reports Ctrl-C
        _die_with_parent(parent)
        os.close(reader)
        os.dup2(writer, 1)
        os.close(writer)
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
    try:
        output, status = _collect(pid, reader, started + peeked.timeout - KILL_AHEAD_S, peeked.format)
    except KeyboardInterrupt:
        _stop(pid)
        _say("interrupted (Ctrl-C or SIGINT)", peeked)
        os._exit(3)
    if status is None:
        _stop(pid)
        _say(timeout_line(peeked.timeout), peeked)
        os._exit(3)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        message = f"internal error: the check was killed by signal {-code}"
        if -code == signal.SIGKILL:
            message += " (out of memory?)"
        _say(message, peeked)
        os._exit(3)
    if not output.strip():
        _say("internal error: the check printed nothing", peeked)
        os._exit(3)
    bounded = bound(output, peeked.format)
    if peeked.format == "json" and bounded is not output:
        code = 3  # the document was replaced by one saying it was too large
    emit(bounded)
    os._exit(code if 0 <= code <= 3 else 3)


def _collect(pid, reader, deadline, fmt):
    """(output, wait status) of the child, or (output, None) at the deadline."""
    most = limit(fmt) + 1
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
                elif size < most:  # keep only what can be shown
                    chunks.append(data[: most - size])
                    size += len(chunks[-1])
                continue
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if open_:  # drain what the child wrote just before it ended
                while size < most:
                    data = os.read(reader, 65536)
                    if not data:
                        break
                    chunks.append(data[: most - size])
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

