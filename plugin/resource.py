"""Acquisition: read the cluster, hand the facts to the contexts unjudged."""
import re
import time

import nagiosplugin

from . import NAME
from .errors import EsError
from .reader import SnapshotReader
from .snapshots import ResponseShapeError


class SnapshotResource(nagiosplugin.Resource):
    """Yields one metric per repository plus the measurements for perfdata.

    ``now_ms`` is injected by tests; in production the clock is read once,
    inside probe(), so every age in one run is measured from the same moment.
    """

    def __init__(self, client, query, now_ms=None):
        self.reader = SnapshotReader(client, query)
        self.recent = query.recent
        self.now_ms = now_ms
        self.survey = None
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
        metrics = list(self._metrics(self.survey))
        if self.recent and self.survey.repositories:
            metrics.append(nagiosplugin.Metric("failed_recent", self.survey.failed_recent(self.recent)[0],
                                               min=0, context="failed_recent"))
        return metrics

    @staticmethod
    def _metrics(survey):
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
        running = survey.running
        yield nagiosplugin.Metric("running", running.duration_s(survey.now_ms) if running else 0,
                                  "s", min=0, context="running")
        yield nagiosplugin.Metric("failed_streak", survey.streak[0], min=0, context="failed_streak")
        stalest = survey.stalest
        if stalest is not None:
            yield nagiosplugin.Metric("age", stalest.age_s(survey.now_ms), "s", min=0, context="age")
        done = survey.newest_completed
        if done is not None:
            yield from _completed("", done, survey.now_ms, shards=True)
        if len(survey.repositories) >= 2:
            yield from _per_repository(survey)


def perf_label(name):
    """A repository name as a perfdata label prefix: every character outside
    [A-Za-z0-9_.-] becomes "_" (no quote, "=" or space can reach Nagios)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def _completed(prefix, done, now_ms, shards=False):
    yield nagiosplugin.Metric(prefix + "duration", done.duration_s(now_ms), "s", min=0, context="measure")
    if shards:
        yield nagiosplugin.Metric("shards_failed", done.shards_failed, min=0, context="measure")
    if done.size_bytes is not None:
        yield nagiosplugin.Metric(prefix + "size", done.size_bytes, "B", min=0, context="measure")


def _per_repository(survey):
    """<repo>_age, _duration, _size, _running, _failed_streak for each
    repository that could be read (README, Perfdata: which appear when)."""
    seen = set()
    for repo in survey.repositories:
        if repo.missing or repo.notes:
            continue  # not read: no value is invented
        prefix = perf_label(repo.name)
        while prefix in seen:  # two names that differ only in replaced characters
            prefix += "_"
        seen.add(prefix)
        prefix += "_"
        if repo.newest_success is not None:
            yield nagiosplugin.Metric(prefix + "age", repo.newest_success.age_s(survey.now_ms), "s",
                                      min=0, context="repository_age")
        if repo.newest_completed is not None:
            yield from _completed(prefix, repo.newest_completed, survey.now_ms)
        running = repo.running[0].duration_s(survey.now_ms) if repo.running else 0
        yield nagiosplugin.Metric(prefix + "running", running, "s", min=0, context="repository_running")
        yield nagiosplugin.Metric(prefix + "failed_streak", repo.failed_streak, min=0, context="measure")
