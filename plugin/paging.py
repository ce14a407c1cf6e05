"""--state-file: print (so cron mails) only news, and say when it is over.

What is news (README, "cron"): a new problem; another state; another
reason at the same state; an unresolved problem again after
--notify-every; a recovery, once; a state file that cannot be used.

Where it runs.  The deadline of -t lives in a forked supervisor
(supervisor.py) that kills a check that overruns and prints the timeout
line itself.  A state file kept by the check would never hear of that
timeout, so the bookkeeping sits one process further out: ``page()`` forks
before the supervisor does; its child runs the plugin as always (supervisor
and check, nothing changed), with standard output into a pipe; this parent
takes the output and the exit code of whatever happened (a verdict, a
timeout, a crash), locks and reads the state file, decides, writes it and
prints the news or nothing.  It exits with the check's own code.  Like the
supervisor it reads no secret: the options it needs come from argv, and the
name of the cluster from the check over a second pipe (``tell``).
"""
import contextlib
import hashlib
import io
import json
import os
import re
import select
import signal
import sys
import time
from collections import namedtuple

from . import NAME
from .durations import format_duration
from .statefile import Locked, StateFile, StateFileError

STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
# A pager shows the first line: it stays below this (the 160).
HEADLINE_MAX = 159
# Without --notify-every, a problem that comes back within this time of
# its recovery is still marked "again".
FLAP_WINDOW_S = 86400
# The lock is awaited until -t, and at least this long even when the check
# used up -t: a run that holds it needs milliseconds (read, decide, write).
LOCK_GRACE_S = 0.25

# Options that do not decide the verdict: changing them keeps the state file.
# Everything else (thresholds, --state-map, --slm, options added later) is
# in the fingerprint, so a file written for another verdict is not trusted.
NOT_VERDICT = {"verbose", "timeout", "state_file", "notify_every", "format", "user", "password",
               "password_file", "api_key_file", "bearer_token_file", "ca_cert", "client_cert",
               "client_key", "insecure", "no_proxy", "no_size", "url", "hostname", "port", "repository"}

Outcome = namedtuple("Outcome", "state status problems output cluster_name")
Paging = namedtuple("Paging", "path notify_every_s url repositories fingerprint timeout")

# -- what counts as the same reason ----------------------------------------------

_DURATION = r"\d+(?:\.\d+)?[ywdhms](?:\d+(?:\.\d+)?[ywdhms])*"
_AGES = re.compile(rf"(?<![\w.\-/]){_DURATION}(?![\w.\-/])|\bjust now\b|"
                   r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")


def reason_key(text):
    """A problem sentence without its ages and durations: "2h old" and
    "3h old", "FAILED just now" and "FAILED 5m ago" are the same reason;
    another snapshot, repository, state or count is not.  Only a whole
    word is an age: a snapshot named "hourly-2h" keeps its name."""
    return _AGES.sub("<age>", text).replace("<age> ago", "<age>")


def same_reason(previous, outcome):
    return _key(previous["problems"], previous["status"]) == _key(outcome.problems, outcome.status)


def _key(problems, status):
    return sorted(reason_key(p) for p in problems) if problems else [reason_key(status)]


# -- the decision ----------------------------------------------------------------

NEW, AGAIN, STATE_CHANGE, REASON_CHANGE, REPEAT, RECOVERED = (
    "new", "again", "state", "reason", "repeat", "recovered")


def decide(previous, outcome, now, notify_every_s=None):
    """(kind of news or None, the record to keep) for this run's outcome.

    ``previous`` is the record last kept (None: nothing reported yet)."""
    prev = previous
    record = {"state": outcome.state, "status": outcome.status, "problems": list(outcome.problems),
              "cluster_name": outcome.cluster_name, "last_run": now,
              "since": now, "problem_since": None, "notified": None,
              "recovered": prev["recovered"] if prev else None}
    if outcome.state == "OK":
        if prev is None or prev["state"] == "OK":
            if prev is not None:
                record["since"] = prev["since"]
            return None, record
        record["recovered"] = {"at": now, "state": prev["state"], "status": prev["status"],
                               "for_s": round(now - prev["since"], 3),
                               "problem_since": prev["problem_since"] or prev["since"]}
        return RECOVERED, record
    if prev is None or prev["state"] == "OK":
        kind = NEW
        recovered = prev and prev["recovered"]
        window = notify_every_s or FLAP_WINDOW_S
        if recovered and 0 <= now - recovered["at"] <= window:
            kind = AGAIN
        record.update(problem_since=now, notified=now)
        return kind, record
    record["problem_since"] = prev["problem_since"] or prev["since"]
    if prev["state"] != outcome.state:
        record["notified"] = now
        return STATE_CHANGE, record
    record["since"] = prev["since"]
    if not same_reason(prev, outcome):
        record["notified"] = now
        return REASON_CHANGE, record
    notified = prev["notified"] if prev["notified"] is not None else prev["since"]
    if notify_every_s and now - notified >= notify_every_s:
        record["notified"] = now
        return REPEAT, record
    record["notified"] = notified
    return None, record


# -- the message -----------------------------------------------------------------

def cluster_label(name, url):
    return f"{name} ({url})" if name else url


def headline(kind, outcome, prev, record, now, label):
    """The first line: what happened, which cluster, the status line; cut
    below HEADLINE_MAX, the reason losing characters first."""
    state = outcome.state
    if kind == RECOVERED:
        was = record["recovered"]
        head = f"{NAME} RECOVERED - {label}: "
        tail = f" (was {was['state']} for {format_duration(was['for_s'])}: {was['status']})"
        # What it was matters more than how it is now: the status line gives way.
        return _fit(head, _cut(outcome.status, max(20, HEADLINE_MAX - len(head) - len(tail))), tail)
    if kind == AGAIN:
        head = f"{NAME} {state} again - {label}: "
    elif kind == REPEAT:
        head = f"{NAME} still {state} for {format_duration(now - record['since'])} - {label}: "
    elif kind == STATE_CHANGE:
        head = f"{NAME} {state}, was {prev['state']} for {format_duration(now - prev['since'])} - {label}: "
    else:
        head = f"{NAME} {state} - {label}: "
    return _fit(head, outcome.status, "")


def _fit(head, middle, tail):
    room = HEADLINE_MAX - len(head) - len(tail)
    if room < 12:  # a very long cluster label: cut the whole line instead
        return _cut(head + middle + tail, HEADLINE_MAX)
    return head + _cut(middle, room) + _cut(tail, HEADLINE_MAX - len(head) - min(len(middle), room))


def _cut(text, limit):
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def details(kind, outcome, prev, record, now, paging):
    """Below the headline: what changed, problem by problem (as -v words
    them), then what was before."""
    lines = []
    before = {reason_key(p): p for p in (prev["problems"] if prev and prev["state"] != "OK" else ())}
    now_problems = {reason_key(p): p for p in outcome.problems}
    for key, text in now_problems.items():
        lines.append(("  " if key in before else "+ ") + text)
    for key, text in before.items():
        if key not in now_problems:
            lines.append("- " + text)
    if prev is None:
        lines.append("before: nothing reported yet")
    elif kind == RECOVERED:
        was = record["recovered"]
        lines.append(f"before: {was['state']} for {format_duration(was['for_s'])} - {was['status']}")
    elif prev["state"] == "OK" and prev["recovered"]:
        was = prev["recovered"]
        lines.append(f"before: OK for {format_duration(now - was['at'])}, after {was['state']} - {was['status']}")
    elif prev["state"] == "OK":
        lines.append(f"before: OK for {format_duration(now - prev['since'])}")
    else:
        lines.append(f"before: {prev['state']} for {format_duration(now - prev['since'])} - {prev['status']}")
    if record.get("problem_since") and kind in (REPEAT, REASON_CHANGE, STATE_CHANGE):
        lines.append(f"problem since {_iso(record['problem_since'])} ({format_duration(now - record['problem_since'])})")
    if kind == REPEAT:
        lines.append(f"repeated every {format_duration(paging.notify_every_s)} (--notify-every) until it is resolved")
    return lines


def _iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def compose(kind, outcome, prev, record, now, paging, faults):
    """The text to print (cron mails it), or "" when there is no news."""
    if kind is None and not faults:
        return ""
    label = cluster_label(outcome.cluster_name, paging.url)
    lines = []
    if kind is not None:
        lines.append(headline(kind, outcome, prev, record, now, label))
    lines += [f"{NAME} UNKNOWN - state file {paging.path} {fault}" for fault in faults]
    if kind is None:
        lines.append(_fit(f"{NAME} {outcome.state} - {label}: ", outcome.status, ""))
    else:
        lines += details(kind, outcome, prev, record, now, paging)
    lines += ["", "The check's output:", outcome.output.rstrip("\n")]
    return "\n".join(lines) + "\n"


# -- the options it needs, from argv ---------------------------------------------

def wanted(argv, default_timeout):
    """Paging settings when argv asks for --state-file and is valid, else
    None: then the plugin runs as without it, and the check itself reports
    a usage error, every run."""
    if not any(arg.startswith("--state-file") for arg in argv):
        return None  # the usual run: not even the options parsed twice
    from .options import HelpShown, UsageError, _base_url, _repositories, build_parser, state_file_options
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            options = build_parser().parse_args(argv)
        if options.state_file is None:
            return None
        path, notify_every_s, timeout = state_file_options(options)
        url = _base_url(options)[0]
    except (UsageError, HelpShown, SystemExit, ValueError):
        return None
    url = re.sub(r"[?#].*", "", url)  # a query string is nobody's business in a mail
    repositories = sorted(_repositories(options.repository))
    verdict = {name: value for name, value in sorted(vars(options).items()) if name not in NOT_VERDICT}
    identity = json.dumps({"url": url, "repositories": repositories, **verdict}, sort_keys=True, default=str)
    fingerprint = "sha256:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()
    return Paging(path, notify_every_s, url, repositories, fingerprint, timeout or default_timeout)


# -- the facts the check tells: the cluster's name and its problems --------------

_facts_fd = None


def tell(check, redact=str):
    """Called by the check process (cli.py) when it is done: the cluster's
    name and each problem as -v words it, to the paging parent.  Nothing
    when there is none (no --state-file, or in-process)."""
    global _facts_fd
    if _facts_fd is None or check is None:
        return
    fd, _facts_fd = _facts_fd, None
    try:
        from .wording import clean, clean_reason
        resource = check.resources[0]
        survey = getattr(resource, "survey", None)
        info = getattr(survey, "info", None)
        name = getattr(info, "name", None)
        results = getattr(check, "results", None) or ()
        problems = [f"{r.state.text.upper()}: {clean_reason(r.hint or str(r), 240)}"
                    for r in results if r.state.code != 0]
        facts = {"cluster_name": clean(name, 48) if name else None, "problems": problems[:20]}
        os.write(fd, redact(json.dumps(facts)).encode("utf-8")[:60000])
    except Exception:  # noqa: BLE001 - the facts are a nicety; the output is what counts
        pass


def _read_facts(reader):
    data = b""
    while True:
        ready, _, _ = select.select([reader], [], [], 0)
        if not ready:
            break
        chunk = os.read(reader, 65536)
        if not chunk:
            break
        data += chunk
    try:
        facts = json.loads(data.decode("utf-8")) if data else {}
    except ValueError:
        facts = {}
    name = facts.get("cluster_name") if isinstance(facts, dict) else None
    problems = facts.get("problems") if isinstance(facts, dict) else None
    return (name if isinstance(name, str) else None,
            [p for p in problems if isinstance(p, str)] if isinstance(problems, list) else None)


# -- the process -----------------------------------------------------------------

def page(argv, default_timeout):
    """With --state-file: fork.  The child returns when the run began (for
    the supervisor's deadline: a forked process has no start-up time of its
    own) and runs the plugin as always, its standard output into a pipe;
    this process does the bookkeeping and exits.  Without it (or when no
    process can be forked), returns None at once and nothing changes."""
    paging = wanted(argv, default_timeout)
    if paging is None:
        return None
    from .supervisor import process_age
    started = time.monotonic() - process_age()
    sys.stdout.flush()
    try:
        out_r, out_w = os.pipe()
        facts_r, facts_w = os.pipe()
        pid = os.fork()
    except OSError:
        return None  # no process to spare: the plugin runs without the state file
    if pid == 0:
        global _facts_fd
        os.close(out_r)
        os.close(facts_r)
        os.dup2(out_w, 1)
        os.close(out_w)
        _facts_fd = facts_w
        return started
    os.close(out_w)
    os.close(facts_w)
    interrupted = []
    signal.signal(signal.SIGINT, lambda signum, frame: interrupted.append(signum))
    signal.signal(signal.SIGTERM, lambda signum, frame: (_stop(pid), os._exit(3)))
    output = _read_all(out_r)
    status = _wait(pid)
    code = os.waitstatus_to_exitcode(status)
    code = code if 0 <= code <= 3 else 3
    name, problems = _read_facts(facts_r)
    text = output.decode("utf-8", "replace")
    if interrupted or _usage_error(text) or not text.strip():
        # Ctrl-C, a usage error, nothing printed (cannot be: the supervisor
        # says something): passed on as it is, the state file untouched.
        _emit(output, code)
    outcome = outcome_of(text, code, name, problems)
    lock_until = max(started + paging.timeout, time.monotonic() + LOCK_GRACE_S)
    message = bookkeeping(paging, outcome, round(time.time(), 3), lock_until)
    from .credentials import Redactor, secrets_in_argv
    _emit(Redactor(secrets_in_argv(argv, os.environ))(message).encode("utf-8"), code)


def outcome_of(text, code, name=None, problems=None):
    """The run as the state file sees it: state from the exit code, the
    status line without the name, the state and the perfdata."""
    state = STATES[code]
    first = text.splitlines()[0] if text.strip() else ""
    status = first.split(" | ", 1)[0]
    status = re.sub(rf"^{NAME} [A-Z]+ - ", "", status).strip() or "(no output)"
    if not problems and state != "OK":
        problems = [f"{state}: {status}"]
    return Outcome(state, status, tuple(problems or ()), text, name)


def bookkeeping(paging, outcome, now, lock_until):
    """Lock, read, decide, write; the text to print ("" for no news)."""
    state_file = StateFile(paging.path)
    faults = []
    prev = None
    locked = False
    try:
        state_file.lock(max(lock_until, time.monotonic()))
        locked = True
    except StateFileError as exc:
        faults.append(f"{exc}; reported without it" if isinstance(exc, Locked) else
                      f"cannot be used: {exc}; every run is reported until it is fixed")
    try:
        unusable = None
        if locked:
            try:
                prev = state_file.read(paging.fingerprint)
            except StateFileError as exc:
                unusable = str(exc)
        kind, record = decide(prev, outcome, now, paging.notify_every_s)
        written = None
        if locked:
            record["check"] = {"url": paging.url, "repositories": paging.repositories,
                               "fingerprint": paging.fingerprint}
            try:
                state_file.write(record)
            except StateFileError as exc:
                written = f"{exc}: every run is reported until it is fixed"
        if unusable:
            faults.append(f"{unusable}: {'the' if written else 'rewritten; the'} present state is reported as new")
        if written:
            faults.append(written)
        return compose(kind, outcome, prev, record, now, paging, faults)
    finally:
        state_file.unlock()


def _usage_error(text):
    return text.startswith(f"{NAME} UNKNOWN - usage: ")


def _read_all(reader):
    chunks = []
    while True:
        try:
            chunk = os.read(reader, 65536)
        except InterruptedError:
            continue
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _wait(pid):
    while True:
        try:
            return os.waitpid(pid, 0)[1]
        except InterruptedError:
            continue


def _emit(data, code):
    from .supervisor import emit
    emit(data)
    os._exit(code)


def _stop(pid):
    try:
        os.kill(pid, signal.SIGTERM)  # the supervisor takes its own child along
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
