"""Acquisition: read the cluster, hand the facts to the contexts unjudged."""
import re
import time
from collections import namedtuple
from types import SimpleNamespace

import nagiosplugin

from . import NAME
from .errors import EsError
from .reader import SnapshotReader
from .snapshots import ResponseShapeError


class RepositoryFacts(namedtuple("RepositoryFacts", [
        "name", "read", "newest_success", "age_s", "newest_completed", "duration_s", "size_bytes",
        "shards_failed", "running", "running_s", "failed_streak", "streak_is_lower_bound", "failed_recent"])):
    """What the check measured of one repository, worked out once (here) and
    only rendered by perfdata, JSON, OpenMetrics, the status line and -v.

    ``read``: False for a repository missing or unreadable (it has no
    facts then, only a state); ``running``: every running snapshot, the
    longest-running first; ``failed_recent``: None without --failed-in-last.
    """
    __slots__ = ()

    def numbers(self):
        """{perfdata label: number}; a fact not known is absent."""
        if not self.read:
            return {}
        numbers = {"age": self.age_s, "duration": self.duration_s, "size": self.size_bytes,
                   "shards_failed": self.shards_failed, "running": self.running_s,
                   "failed_streak": self.failed_streak, "failed_recent": self.failed_recent}
        return {label: value for label, value in numbers.items() if value is not None}


class Facts(namedtuple("Facts", [
        "repositories", "stalest", "age_s", "newest_completed", "duration_s", "size_bytes", "shards_failed",
        "longest_running", "running_s", "failed_streak", "streak_repository", "failed_recent",
        "recent_repository"])):
    """The facts of the whole run: the stalest age, the longest run, the
    longest streak and the most recent failures of any repository, and the
    newest completed snapshot of all; ``repositories``: RepositoryFacts in
    the order asked."""
    __slots__ = ()

    def numbers(self):
        numbers = {"age": self.age_s, "duration": self.duration_s, "size": self.size_bytes,
                   "shards_failed": self.shards_failed, "running": self.running_s,
                   "failed_streak": self.failed_streak, "failed_recent": self.failed_recent}
        return {label: value for label, value in numbers.items() if value is not None}


def repository_facts(repo, now_ms, recent=0):
    if repo.missing or repo.notes:
        return RepositoryFacts(repo.name, False, None, None, None, None, None, None, (), None, None, False, None)
    success, done, running = repo.newest_success, repo.newest_completed, repo.running
    return RepositoryFacts(
        name=repo.name, read=True, newest_success=success,
        age_s=success.age_s(now_ms) if success else None,
        newest_completed=done,
        duration_s=done.duration_s(now_ms) if done else None,
        size_bytes=done.size_bytes if done else None,
        shards_failed=done.shards_failed if done else None,
        running=running, running_s=running[0].duration_s(now_ms) if running else 0,
        failed_streak=repo.failed_streak, streak_is_lower_bound=repo.streak_is_lower_bound,
        failed_recent=repo.failed_recent(recent) if recent else None)


def survey_facts(survey, recent=0):
    """Facts of every repository of ``survey``, and of the run."""
    now_ms = survey.now_ms
    repositories = tuple(repository_facts(r, now_ms, recent) for r in survey.repositories)
    stalest, done, running = survey.stalest, survey.newest_completed, survey.running
    streak, streak_repository = survey.streak
    failed_recent, recent_repository = survey.failed_recent(recent) if recent else (None, "")
    return Facts(
        repositories=repositories, stalest=stalest, age_s=stalest.age_s(now_ms) if stalest else None,
        newest_completed=done, duration_s=done.duration_s(now_ms) if done else None,
        size_bytes=done.size_bytes if done else None, shards_failed=done.shards_failed if done else None,
        longest_running=running, running_s=running.duration_s(now_ms) if running else 0,
        failed_streak=streak, streak_repository=streak_repository,
        failed_recent=failed_recent if survey.repositories else None, recent_repository=recent_repository)


class SnapshotResource(nagiosplugin.Resource):
    """Yields one metric per repository plus the measurements for perfdata.

    ``now_ms`` is injected by tests; in production the clock is read once,
    inside probe(), so every age in one run is measured from the same moment.
    ``facts`` (survey_facts) is what every view renders.
    """

    def __init__(self, client, query, now_ms=None):
        self.reader = SnapshotReader(client, query)
        self.asked = query.repositories  # named with -r: what a failed run reports on
        self.recent = query.recent
        self.now_ms = now_ms
        self.survey = None
        self.facts = None
        self.error = None

    @property
    def name(self):
        return NAME

    def probe(self):
        now_ms = self.now_ms if self.now_ms is not None else int(time.time() * 1000)
        try:
            self.survey = self.reader.read(now_ms)
        except ResponseShapeError as exc:
            self.error = EsError(f"unexpected answer from the cluster: {exc}")
        except EsError as exc:
            self.error = exc
        if self.error is not None:
            return [nagiosplugin.Metric("cluster", self.error, context="cluster")]
        self.facts = survey_facts(self.survey, self.recent)
        return list(_metrics(self.survey, self.facts))

    def alone(self, repository):
        """(view, metrics) of ``repository`` judged alone: a resource-like
        view whose survey and facts hold that repository only (no SLM, no
        health report: those judge the cluster), and the metrics probe()
        makes of it.  What OpenMetrics needs for its per-repository state."""
        survey = self.survey._replace(repositories=(repository,), slm=None, health=None)
        view = SimpleNamespace(survey=survey, facts=survey_facts(survey, self.recent))
        return view, list(_metrics(survey, view.facts))


def _metrics(survey, facts):
    if not survey.repositories:
        # A fact (the cluster answered: none registered); judged by RegisteredContext.
        yield nagiosplugin.Metric("registered", 0, min=0, context="registered")
        return
    # SLM first: a stopped SLM or a missing policy explains empty repositories.
    if survey.slm is not None:
        yield nagiosplugin.Metric("slm", survey.slm, context="slm")
    for indicator in survey.health or ():
        yield nagiosplugin.Metric("health", indicator, context="health")
    for repository in survey.repositories:
        yield nagiosplugin.Metric("repository", repository, context="repository")
        if repository.skewed:
            yield nagiosplugin.Metric("skew", repository, context="skew")
    yield nagiosplugin.Metric("running", facts.running_s, "s", min=0, context="running")
    yield nagiosplugin.Metric("failed_streak", facts.failed_streak, min=0, context="failed_streak")
    if facts.age_s is not None:
        yield nagiosplugin.Metric("age", facts.age_s, "s", min=0, context="age")
    if facts.newest_completed is not None:
        yield from _completed("", facts, shards=True)
    if len(survey.repositories) >= 2:
        yield from _per_repository(facts)
    if facts.failed_recent is not None:
        yield nagiosplugin.Metric("failed_recent", facts.failed_recent, min=0, context="failed_recent")


def perf_label(name):
    """A repository name as a perfdata label prefix: every character outside
    [A-Za-z0-9_.-] becomes "_" (no quote, "=" or space can reach Nagios)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _completed(prefix, facts, shards=False):
    yield nagiosplugin.Metric(prefix + "duration", facts.duration_s, "s", min=0, context="measure")
    if shards:
        yield nagiosplugin.Metric("shards_failed", facts.shards_failed, min=0, context="measure")
    if facts.size_bytes is not None:
        yield nagiosplugin.Metric(prefix + "size", facts.size_bytes, "B", min=0, context="measure")


def _per_repository(facts):
    """<repo>_age, _duration, _size, _running, _failed_streak for each
    repository that could be read (README, Perfdata: which appear when)."""
    seen = set()
    for repo in facts.repositories:
        if not repo.read:
            continue  # not read: no value is invented
        prefix = perf_label(repo.name)
        while prefix in seen:  # two names that differ only in replaced characters
            prefix += "_"
        seen.add(prefix)
        prefix += "_"
        if repo.age_s is not None:
            yield nagiosplugin.Metric(prefix + "age", repo.age_s, "s", min=0, context="repository_age")
        if repo.newest_completed is not None:
            yield from _completed(prefix, repo)
        yield nagiosplugin.Metric(prefix + "running", repo.running_s, "s", min=0, context="repository_running")
        yield nagiosplugin.Metric(prefix + "failed_streak", repo.failed_streak, min=0, context="measure")
