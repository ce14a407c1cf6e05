"""Judgement: which facts make the check OK, WARNING, CRITICAL or UNKNOWN."""
import nagiosplugin
from nagiosplugin import Critical, Ok, Result, Unknown, Warn

from .durations import describe_range, format_duration
from .wording import ago, clean, clean_reason, snapshot_phrase, window_phrase

DEFAULT_STATE_MAP = {
    "SUCCESS": Ok,
    "IN_PROGRESS": Ok,      # the age is judged on the last completed success
    "PARTIAL": Warn,        # restorable, but some shards are missing
    "FAILED": Critical,
    "INCOMPATIBLE": Critical,  # cannot be restored on this cluster's version
}
LEVELS = {"ok": Ok, "warning": Warn, "critical": Critical, "unknown": Unknown}
ALIASES = {"warn": "warning", "crit": "critical"}
# The monitoring-plugins ranking: a CRITICAL must never hide behind an
# UNKNOWN (nagiosplugin alone ranks UNKNOWN highest).
RANK = {Ok: 0, Unknown: 1, Warn: 2, Critical: 3}


def worst(*states):
    return max(states, key=RANK.__getitem__)


class RankedResults(nagiosplugin.Results):
    """Results ordered OK < UNKNOWN < WARNING < CRITICAL."""

    @property
    def most_significant_state(self):
        return max(self.by_state.keys(), key=RANK.__getitem__)

    def __iter__(self):
        for state in sorted(self.by_state, key=RANK.__getitem__, reverse=True):
            yield from self.by_state[state]


class ClusterContext(nagiosplugin.Context):
    """A failure to read the cluster carries its own state (see client.py).

    Its text may quote the cluster (an error reason, a snapshot name): made
    one clean line here, where every such failure becomes a result.
    """

    def evaluate(self, metric, resource):
        return Result(metric.value.state, clean_reason(str(metric.value), 240), metric)


class RepositoryContext(nagiosplugin.Context):
    """State of a repository's newest snapshot, looked up in one table."""

    def __init__(self, name, state_map=None, policy=""):
        super().__init__(name)
        self.state_map = {**DEFAULT_STATE_MAP, **(state_map or {})}
        self.of_policy = f" of policy {clean(policy)!r}" if policy else ""

    def evaluate(self, metric, resource):
        repo, now_ms = metric.value, resource.survey.now_ms
        where = f"repository {clean(repo.name)!r}"
        if repo.missing:
            hint = f"{where} not found"
            if repo.name == "aliyun_auto_snapshot":
                hint += " (Alibaba Cloud creates it with the first automatic backup)"
            return Result(Critical, hint, metric)
        if repo.notes:
            return Result(Critical, f"{where} {clean_reason(repo.notes[0])}", metric)
        newest = repo.newest
        if newest is None:
            return Result(Critical, f"no snapshot{self.of_policy}{window_phrase(repo.window_s)} in {where}",
                          metric)
        state = self.state_map.get(newest.state)
        hint = f"{snapshot_phrase(newest, now_ms)} (repo {clean(repo.name)})"
        if state is None:
            state = Unknown
            hint = f"{clean(newest.name)} has unrecognised state {clean(newest.state, 24)!r} (repo {clean(repo.name)})"
        if repo.newest_success is None:
            state = worst(state, Critical)
            hint = (f"{snapshot_phrase(newest, now_ms)}, no successful snapshot"
                    f"{window_phrase(repo.window_s)} (repo {clean(repo.name)})")
        elif newest is not repo.newest_success and state == Ok:
            # Running (or mapped to OK): say how old the data to restore is.
            hint = (f"{snapshot_phrase(newest, now_ms)}, last success "
                    f"{format_duration(repo.newest_success.age_s(now_ms))} old (repo {clean(repo.name)})")
        if repo.unreadable and RANK[state] < RANK[Warn]:
            # Listed by the cluster, metadata unreadable: it may be the newest.
            state = Warn
            hint = (f"snapshot {clean(repo.unreadable[0])} has no readable metadata, newest readable "
                    f"{snapshot_phrase(newest, now_ms)} (repo {clean(repo.name)})")
        return Result(state, hint, metric)


class _ThresholdContext(nagiosplugin.ScalarContext):
    """A ScalarContext whose hint is a sentence; subclasses say which."""

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        limit = {Critical: self.critical, Warn: self.warning}.get(result.state)
        return Result(result.state, self.sentence(metric.value, resource.survey, limit), metric)


class AgeContext(_ThresholdContext):
    """Age of the newest success (of the stalest repository) against -w/-c."""

    def sentence(self, seconds, survey, limit):
        snap, age = survey.stalest, format_duration(seconds)
        if limit is None:
            return f"{clean(snap.name)} SUCCESS, {age} old (repo {clean(snap.repository)})"
        return (f"newest success {clean(snap.name)} is {age} old, {describe_range(str(limit))} "
                f"(repo {clean(snap.repository)})")


class RunningContext(_ThresholdContext):
    """How long the newest snapshot has been running (0 when none runs)."""

    def sentence(self, seconds, survey, limit):
        snap = survey.running
        if snap is None:
            return "no snapshot running"
        text = f"{clean(snap.name)} IN_PROGRESS for {format_duration(seconds)}"
        if limit is not None:
            text += f", {describe_range(str(limit))}"
        return f"{text} (repo {clean(snap.repository)})"


class StreakContext(_ThresholdContext):
    """Completed snapshots in a row, at the head of a repository, not SUCCESS."""

    def sentence(self, count, survey, limit):
        _, repository = survey.streak
        text = f"{count} snapshot{'s' if count != 1 else ''} in a row not successful"
        if limit is not None:
            text += f" (limit {limit})"
        return f"{text} (repo {clean(repository)})"


# A policy may start a few minutes late; an hour late it did not start.
MISSED_SCHEDULE_GRACE_MS = 3600 * 1000


class SlmContext(nagiosplugin.Context):
    """Snapshot lifecycle management: stopped, or a policy that stopped working."""

    def __init__(self, name, policy=""):
        super().__init__(name)
        self.policy = policy

    def evaluate(self, metric, resource):
        facts, now_ms = metric.value, resource.survey.now_ms
        problems = []
        if facts.mode not in (None, "RUNNING"):
            problems.append((Warn, f"SLM is {clean(facts.mode, 16)}: scheduled snapshots are not taken"))
        if self.policy and not facts.policies:
            problems.append((Critical, f"SLM policy {clean(self.policy)!r} not found"))
        for policy in facts.policies:
            name = clean(policy.name)
            if policy.next_ms is not None and policy.next_ms + MISSED_SCHEDULE_GRACE_MS < now_ms:
                due = (now_ms - policy.next_ms) // 1000
                problems.append((Warn, f"SLM policy {name!r} missed its schedule (due {ago(due)})"))
            if policy.last_failure_ms and policy.last_failure_ms > (policy.last_success_ms or 0):
                when = ago((now_ms - policy.last_failure_ms) // 1000)
                detail = f": {clean_reason(policy.last_failure_details, 60)}" if policy.last_failure_details else ""
                problems.append((Warn, f"SLM policy {name!r} last run failed {when}{detail}"))
        if not problems:
            return Result(Ok, f"SLM {facts.mode or 'policies'} OK", metric)
        state = worst(*(state for state, _ in problems))
        return Result(state, "; ".join(text for _, text in problems), metric)


HEALTH_LEVELS = {"green": Ok, "yellow": Warn, "red": Critical}


class HealthContext(nagiosplugin.Context):
    """An indicator of Elasticsearch's own health report (ES >= 8.7)."""

    def evaluate(self, metric, resource):
        indicator = metric.value
        state = HEALTH_LEVELS.get(indicator.status, Unknown)
        symptom = f": {clean_reason(indicator.symptom, 80)}" if indicator.symptom else ""
        return Result(state, f"health {indicator.name} is {clean(indicator.status, 16)}{symptom}", metric)


class MeasureContext(nagiosplugin.Context):
    """Perfdata only: measured, graphed, never judged."""

    def performance(self, metric, resource):
        return nagiosplugin.Performance(metric.name, metric.value, metric.uom or "", min=0)
