"""What leaves the plugin: every byte budget, the documents of each format
rendered within them, and the one renderer of a run that failed (usage
error, timeout, internal error, a signal, a killed check) in each format,
for the check process and the supervising parent alike.

Above report.py, openmetrics.py and summary.py, which get their budgets
from here as arguments; below cli.py and supervisor.py, which print.
"""
from . import NAME
from .openmetrics import openmetrics_failure, openmetrics_report
from .report import json_failure, json_report

# Nagios keeps 8192 bytes of plugin output; the rest of the 8 KB is margin.
NAGIOS_OUTPUT_LIMIT = 8000
# Of those, at -v: the long output (summary.py, given it by cli.py) gets at most this much, the
# log at -vv/-vvv (cli.py) this much; when perfdata needs the room, the
# long output is cut down to LONG_OUTPUT_FLOOR before any perfdata is left out.
LONG_OUTPUT_BUDGET = 5000
LOG_BUDGET = 2000
LONG_OUTPUT_FLOOR = 1500
# A JSON document is for scripts: bounded all the same, whole or not at all.
JSON_OUTPUT_LIMIT = 64 * 1024
JSON_DOCUMENT_LIMIT = 60 * 1024  # what report.py aims at, under the hard limit
JSON_TEXT_LIMIT = 256            # any one text value in it
# Perfdata the plugin always gives, whatever else is left out (README, Perfdata).
OVERALL_LABELS = ("age", "duration", "size", "shards_failed", "running", "failed_streak", "failed_recent")
PER_REPOSITORY_SUFFIXES = ("_failed_streak", "_age", "_duration", "_size", "_running")


def limit(fmt):
    return NAGIOS_OUTPUT_LIMIT if fmt == "nagios" else JSON_OUTPUT_LIMIT


def status_line(message, state="UNKNOWN"):
    return f"{NAME} {state} - {message}"


def json_document(check, resource, notes=()):
    return json_report(check, resource, notes, text_limit=JSON_TEXT_LIMIT, document_limit=JSON_DOCUMENT_LIMIT)


def report(fmt, check, resource, notes=()):
    """The document of a check that ran, in a format other than Nagios'."""
    if fmt == "openmetrics":
        return openmetrics_report(check, resource)
    return json_document(check, resource, notes)


def failure(message, fmt, repositories=()):
    """(stdout, stderr) of a run that ended UNKNOWN before the check could:
    one status line, or the JSON document or exposition saying the same.

    An exposition is a file a textfile collector reads: it stays valid (and
    keeps the state series of the repositories named with -r, so that an
    alert on them does not go quiet); the sentence goes to stderr, which
    cron mails and a collector never sees.
    """
    if fmt == "json":
        return json_failure(message, 3, text_limit=JSON_TEXT_LIMIT, document_limit=JSON_DOCUMENT_LIMIT) + "\n", ""
    if fmt == "openmetrics":
        return openmetrics_failure(3, repositories) + "\n", status_line(message) + "\n"
    return status_line(message) + "\n", ""


def usage_failure(message, fmt, prog, repositories=()):
    """A usage error: in the Nagios format with the usage hint, in the others
    as any failure (a document, an exposition), since a script or a
    collector reads stdout there."""
    if fmt == "nagios":
        return (f"{status_line('usage: ' + message)}\n"
                f"Usage: {prog} [--url URL] [-r NAME] [-w AGE] [-c AGE] [-t SECONDS] ...\n"
                f"See {prog} --help\n"), ""
    return failure(f"usage: {message}", fmt, repositories)


def bound(output, fmt):
    """The parent's last defence, in bytes: at most what the reader keeps.
    Nagios 8 KB cut at a line end; a JSON document whole or replaced by one
    saying it was too large; an exposition (one sample a line) cut at a line
    end, to 64 KB."""
    most = limit(fmt)
    if len(output) <= most:
        return output
    if fmt == "json":  # a cut document is no document
        return failure(f"output larger than {most // 1024} KB", fmt)[0].encode()
    marker = b"\n... output cut (Nagios keeps 8 KB)\n" if fmt == "nagios" else b"\n"
    cut = output.rfind(b"\n", 0, most - len(marker))
    cut = cut if cut > 0 else most - len(marker)
    return output[:cut] + marker


# -- the Nagios format: status line, long output, perfdata within 8 KB ------------

def _label(token):
    return token.partition("=")[0].strip("'")


def perfdata_groups(perfdata):
    """(overall tokens, [(repository prefix, its tokens)]), each in the order
    nagiosplugin sorts the perfdata (graphs key on labels, not places)."""
    overall, groups = [], {}
    for token in perfdata:
        label = _label(token)
        if label in OVERALL_LABELS:
            overall.append(token)
            continue
        suffix = next((s for s in PER_REPOSITORY_SUFFIXES if label.endswith(s)), "")
        groups.setdefault(label[: len(label) - len(suffix)], []).append(token)
    return overall, list(groups.items())


def _screened(text, where, warnings):
    """nagiosplugin's rule: no "|" outside the perfdata, and a warning if one was removed."""
    text = text.rstrip("\n")
    if "|" in text:
        warnings.append(f"warning: removed illegal characters (0x7c) from {where}")
        text = text.replace("|", "")
    return text


def _cut_lines(lines, budget):
    """Whole lines within ``budget`` bytes (each with its newline), the last
    one saying how many more there were."""
    kept, used = [], 0
    for index, line in enumerate(lines):
        size = len(line.encode("utf-8", "replace")) + 1
        last = index == len(lines) - 1
        if used + size > (budget if last else budget - 80):  # room for the line saying so
            kept.append(f"... and {len(lines) - index} more lines (Nagios keeps 8 KB of output)")
            break
        kept.append(line)
        used += size
    return kept


def _size(lines):
    return sum(len(line.encode("utf-8", "replace")) + 1 for line in lines)


def nagios_output(status, long_lines, log_text, perfdata, verbose, budget=NAGIOS_OUTPUT_LIMIT):
    """The whole plugin output, within ``budget`` bytes, without losing what matters.

    Perfdata is cut last and only by whole tokens: the long output is cut
    first (down to LONG_OUTPUT_FLOOR), then per-repository labels are left
    out, a repository at a time, from the last; the overall labels, first
    on the perfdata line, always stay.  At -v a note says what was left out.
    """
    warnings = []
    status = _screened(status, "status line", warnings)
    body = [_screened(line, "long output", warnings) for line in long_lines] if verbose else []
    if log_text.strip():  # at -v 0 only warnings are logged (nagiosplugin's Runtime)
        body.append(_screened(log_text, "logging output", warnings))
    overall, groups = perfdata_groups(perfdata)
    tokens = overall + [t for _, group in groups for t in group]
    perf_size = len(" ".join(tokens).encode("utf-8", "replace")) + 3 if tokens else 0  # "| " or " | "
    fixed = len(status.encode("utf-8", "replace")) + 1
    note_room = 120 if verbose and groups else 0
    body_lines = body + warnings
    room = max(LONG_OUTPUT_FLOOR, budget - fixed - perf_size - note_room)
    if _size(body_lines) > room:
        body_lines = _cut_lines(body_lines, room)
    left = budget - fixed - _size(body_lines) - (note_room if perf_size + _size(body_lines) + fixed > budget else 0)
    kept, dropped = list(overall), 0
    used = len(" ".join(kept).encode("utf-8", "replace")) + 3 if kept else 0
    for index, (_, group) in enumerate(groups):
        size = len(" ".join(group).encode("utf-8", "replace")) + (1 if kept else 3)
        if used + size > left:
            dropped = len(groups) - index
            break
        kept += group
        used += size
    if dropped and verbose:
        body_lines.append(f"note: perfdata of {dropped} of {len(groups)} repositories left out "
                          "(Nagios keeps 8 KB of output; --format json has them all)")
    perf = " ".join(kept)
    if not verbose:  # the perfdata on the status line, as nagiosplugin puts it
        return "\n".join([f"{status} | {perf}" if perf else status] + [line for line in body_lines if line]) + "\n"
    lines = [status] + [line for line in body_lines if line] + ([f"| {perf}"] if perf else [])
    return "\n".join(lines) + "\n"
