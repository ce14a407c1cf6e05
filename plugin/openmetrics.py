"""``--format openmetrics``: the perfdata's facts, per repository, for Prometheus.

Meant for node_exporter's textfile collector fed by a cron job (README): the
Prometheus text exposition format, ended by ``# EOF`` so that it is valid
OpenMetrics text as well (the Prometheus parsers skip that comment).  Numbers
only: the sentences stay with --format nagios and json, and the only text
from the cluster that reaches this output is a repository name, escaped as a
label value.  The exit code stays the check's.

The numbers come from the same domain objects the perfdata and the JSON
document read (snapshots.Repository, snapshots.Survey), and a repository's state
from the check's own contexts and thresholds: nothing is judged twice.
"""
import re

from nagiosplugin import Result

from .contexts import worst

PREFIX = "es_snapshot_"
STATES = "0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN"

# Perfdata label: (metric name, HELP).  Same facts, Prometheus names (unit
# as suffix), one sample per repository instead of the worst of them.
FACTS = {
    "age": (PREFIX + "age_seconds", "Age of the newest successful snapshot."),
    "duration": (PREFIX + "duration_seconds", "Run time of the newest completed snapshot (by end time)."),
    "size": (PREFIX + "size_bytes", "Total size of the newest completed snapshot (by end time)."),
    "shards_failed": (PREFIX + "shards_failed", "Failed shards of the newest completed snapshot (by end time)."),
    "running": (PREFIX + "running_seconds",
                "How long the longest-running snapshot has been running, 0 when none runs."),
    "failed_streak": (PREFIX + "failed_streak",
                      "Completed snapshots in a row of one policy, the last to end first, that were no success."),
    "failed_recent": (PREFIX + "failed_recent",
                      "With --failed-in-last N: how many of the last N completed snapshots were no success."),
}
UP = (PREFIX + "up", "1 if the cluster was read, 0 if not.")
CHECK_STATE = (PREFIX + "check_state", f"State of the whole check, its exit code: {STATES}.")
# --slm and --health judge the cluster, not a repository: they count in
# check_state only.
REPOSITORY_STATE = (PREFIX + "state", f"State of this repository alone, same thresholds: {STATES}.")


def repository_state(check, resource, repo):
    """The repository judged alone, by the check's own contexts and thresholds.

    The check judges the stalest age, the longest run and the longest streak
    of all repositories; here the metrics the resource makes of this
    repository alone are evaluated the way nagiosplugin's Check does, so a
    repository that is too old but not the stalest still shows it.
    """
    view, metrics = resource.alone(repo)
    states = []
    for metric in metrics:
        result = metric.replace(contextobj=check.contexts[metric.context], resource=view).evaluate()
        states.append(result.state if isinstance(result, Result) else result)
    return worst(*states)


# Characters the format has no escape for that still break a reader: C0
# and C1 controls and DEL (a \r becomes a line end for any reader with
# universal newlines, Python's among them), and the Unicode line and
# paragraph separators (str.splitlines splits there).
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def label_value(text):
    """A label value as the exposition format wants it: UTF-8, \\\\ \\" \\n
    escaped, other control characters percent-encoded (as names are under
    LANG=C, wording.safe_name), so two such names stay two series."""
    text = str(text).encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return _CONTROL.sub(lambda m: "".join(f"%{b:02X}" for b in m.group(0).encode("utf-8")), text)


def _family(name, help_text, samples):
    """HELP, TYPE and samples [(repository or None, value)]; nothing without samples."""
    if not samples:
        return []
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for repository, value in samples:
        labels = "" if repository is None else f'{{repository="{label_value(repository)}"}}'
        lines.append(f"{name}{labels} {value}")
    return lines


def _exposition(up, check_state, states, facts):
    """states: [(repository, code)]; facts: [(repository, {label: number})]."""
    lines = _family(*UP, [(None, up)]) + _family(*CHECK_STATE, [(None, check_state)])
    lines += _family(*REPOSITORY_STATE, states)
    for label, (name, help_text) in FACTS.items():
        lines += _family(name, help_text, [(repo, numbers[label]) for repo, numbers in facts
                                           if label in numbers])
    return "\n".join(lines + ["# EOF"])


def openmetrics_report(check, resource):
    survey = resource.survey
    if survey is None:  # the cluster could not be read: its state, for what was asked
        return openmetrics_failure(check.exitcode, resource.asked)
    return _exposition(
        1, check.exitcode,
        [(repo.name, repository_state(check, resource, repo).code) for repo in survey.repositories],
        [(facts.name, facts.numbers()) for facts in resource.facts.repositories])


def openmetrics_failure(exit_code, repositories=()):
    """The exposition of a run that read nothing: still valid, still alerting.

    Every repository named with -r carries the check's state, so that an
    alert on es_snapshot_state does not go quiet while the cluster is down.
    """
    return _exposition(0, exit_code, [(name, exit_code) for name in repositories], [])
