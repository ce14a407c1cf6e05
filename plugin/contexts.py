"""Judgement: which facts make the check OK, WARNING, CRITICAL or UNKNOWN."""
import nagiosplugin
from nagiosplugin import Critical, Ok, Result, Unknown, Warn

from .durations import describe_range, format_duration
from .wording import clean, snapshot_phrase, window_phrase

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
    """A failure to read the cluster carries its own state (see client.py)."""

    def evaluate(self, metric, resource):
        return Result(metric.value.state, str(metric.value), metric)


class RepositoryContext(nagiosplugin.Context):
    """State of a repository's newest snapshot, looked up in one table."""

    def __init__(self, name, state_map=None):
        super().__init__(name)
        self.state_map = {**DEFAULT_STATE_MAP, **(state_map or {})}

    def evaluate(self, metric, resource):
        repo, now_ms = metric.value, resource.survey.now_ms
        where = f"repository {clean(repo.name)!r}"
        if repo.missing:
            hint = f"{where} not found"
            if repo.name == "aliyun_auto_snapshot":
                hint += " (Alibaba Cloud creates it with the first automatic backup)"
            return Result(Critical, hint, metric)
        if repo.notes:
            return Result(Critical, f"{where} {repo.notes[0]}", metric)
        newest = repo.newest
        if newest is None:
            return Result(Critical, f"no snapshot{window_phrase(repo.window_s)} in {where}", metric)
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
        return Result(state, hint, metric)


class AgeContext(nagiosplugin.ScalarContext):
    """Age of the newest success (of the stalest repository) against -w/-c."""

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        snap = resource.survey.stalest
        age = format_duration(metric.value)
        hint = f"{clean(snap.name)} SUCCESS, {age} old (repo {clean(snap.repository)})"
        if result.state == Critical:
            hint = f"newest success {clean(snap.name)} is {age} old, {describe_range(str(self.critical))} (repo {clean(snap.repository)})"
        elif result.state == Warn:
            hint = f"newest success {clean(snap.name)} is {age} old, {describe_range(str(self.warning))} (repo {clean(snap.repository)})"
        return Result(result.state, hint, metric)


class MeasureContext(nagiosplugin.Context):
    """Perfdata only: measured, graphed, never judged."""

    def performance(self, metric, resource):
        return nagiosplugin.Performance(metric.name, metric.value, metric.uom or "", min=0)
