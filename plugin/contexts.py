"""Judgement: which facts make the check OK, WARNING, CRITICAL or UNKNOWN."""
import nagiosplugin
from nagiosplugin import Critical, Ok, Unknown, Warn

from .durations import describe_range, format_duration
from .snapshots import SKEW_TOLERANCE_MS
from .wording import ago, beyond, clean, clean_reason, snapshot_phrase, window_phrase

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


class Result(nagiosplugin.Result):
    """A result that also says what it is about: "repository:<name>",
    "health:<name>", or the kind of check (the metric's name).

    The context that judges a fact decides it, once; the summary counts the
    other problems by it ("(+2 more)") instead of working it out again."""

    def __new__(cls, state, hint=None, metric=None, subject=None):
        result = super().__new__(cls, state, hint, metric)
        result.subject = subject if subject is not None else (metric.name if metric else "cluster")
        return result


def about_repository(name):
    return "repository:" + name


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


class RegisteredContext(nagiosplugin.Context):
    """The cluster answered, and no snapshot repository is registered: no
    backup can exist (the fact is the resource's, the verdict is here)."""

    def evaluate(self, metric, resource):
        return Result(Critical, "no snapshot repository registered", metric, subject="cluster")


class RepositoryContext(nagiosplugin.Context):
    """The completed snapshots of a repository, each state looked up in one table.

    Judged are the newest completed snapshot (by end time) and every
    completed one that was no success and that no success of its own policy
    ended after (Repository.unresolved): since ES 7.8 snapshots run
    concurrently, and a full snapshot that fails after the hourly ones that
    started later succeeded must not hide behind them.  The worst of them
    decides.  A running snapshot is never the one judged here: while a
    retry runs, the FAILED snapshot before it keeps the check CRITICAL until
    a snapshot completes successfully (no CRITICAL -> OK -> CRITICAL
    flapping).  How long snapshots run is judged by RunningContext.  The
    newest success of a policy that holds no index takes
    --empty-snapshot-state.
    """

    def __init__(self, name, state_map=None, policy="", no_snapshots=Critical, empty=Warn):
        super().__init__(name)
        self.state_map = {**DEFAULT_STATE_MAP, **(state_map or {})}
        self.of_policy = f" of policy {clean(policy)!r}" if policy else ""
        self.no_snapshots = no_snapshots  # --no-snapshots-state
        self.empty = empty  # --empty-snapshot-state

    def evaluate(self, metric, resource):
        repo, survey = metric.value, resource.survey
        about = about_repository(repo.name)
        now_ms = survey.now_ms
        where = f"repository {clean(repo.name)!r}"
        if repo.missing:
            hint = f"{where} not found"
            if repo.name == "aliyun_auto_snapshot":
                hint += " (Alibaba Cloud creates it with the first automatic backup)"
            elif survey.registered:
                shown = ", ".join(clean(n) for n in survey.registered[:5])
                more = ", ..." if len(survey.registered) > 5 else ""
                hint += f" (registered: {shown}{more})"
            return Result(Critical, hint, metric, about)
        if repo.notes:
            return Result(Critical, f"{where} {clean_reason(repo.notes[0])}", metric, about)
        tag = f"(repo {clean(repo.name)})"
        if repo.newest_completed is None:
            if repo.running:
                return Result(Critical, f"{snapshot_phrase(repo.running[-1], now_ms)}, no completed "
                                        f"snapshot{window_phrase(repo.window_s)} {tag}", metric, about)
            if repo.unreadable:
                # Listed, metadata unreadable (the folder wiped or lost): not
                # an empty repository, and nothing restorable is known.
                return Result(Critical, f"snapshot {clean(repo.unreadable[0])} has no readable metadata, "
                                        f"no readable snapshot{self.of_policy} in {where}", metric, about)
            if repo.window_s is None:  # the whole listing was read: the repository is empty
                return Result(self.no_snapshots, f"{where} holds no snapshot{self.of_policy}", metric, about)
            return Result(self.no_snapshots,
                          f"no snapshot{self.of_policy} in {where}{window_phrase(repo.window_s)}", metric, about)
        state, judged = self._decisive(repo)
        success = repo.newest_success
        if success is None:
            return Result(worst(state, Critical), f"{snapshot_phrase(judged, now_ms)}, no successful snapshot"
                                                  f"{window_phrase(repo.window_s)} {tag}"
                                                  f"{self._unrecognised(repo, judged, tag)}", metric, about)
        if judged.state not in self.state_map:
            hint = f"{clean(judged.name)} has unrecognised state {clean(judged.state, 24)!r} {tag}"
        elif state != Ok and repo.succeeded(judged):  # its policy's newest success holds no index
            hint = f"{snapshot_phrase(judged, now_ms)}, holds no index {tag}"
        elif state != Ok:
            hint = f"{snapshot_phrase(judged, now_ms)}{self._ended(judged, success, now_ms)} {tag}"
        else:
            hint = f"{snapshot_phrase(success, now_ms)}{', holds no index' if success.empty else ''} {tag}"
        if state == Ok and repo.running:
            # A snapshot runs: say how old the data to restore is.
            hint = (f"{snapshot_phrase(repo.running[-1], now_ms)}, last success "
                    f"{format_duration(success.age_s(now_ms))} old {tag}")
        if repo.unreadable and RANK[state] < RANK[Warn]:
            # Listed by the cluster, metadata unreadable: it may be the newest.
            state = Warn
            hint = (f"snapshot {clean(repo.unreadable[0])} has no readable metadata, newest readable "
                    f"{snapshot_phrase(repo.newest_completed, now_ms)} {tag}")
        return Result(state, hint + self._unrecognised(repo, judged, tag), metric, about)

    def _unrecognised(self, repo, judged, tag):
        """A state this plugin does not know, among the judged snapshots,
        is named even when a worse one decides (a new Elasticsearch state
        may mean a broken backup): summary.py does the same across
        repositories."""
        other = next((s for s in repo.unresolved if s.state not in self.state_map and s is not judged), None)
        if other is None:
            return ""
        return f"; {clean(other.name)} has unrecognised state {clean(other.state, 24)!r} {tag}"

    def _decisive(self, repo):
        """(state, snapshot) that decides: the worst of the unresolved
        failures and of the empty newest successes, the last to end among
        equals; else the newest completed, OK."""
        judged = [(self.state_map.get(s.state, Unknown), s) for s in repo.unresolved]
        judged += [(self.empty, s) for s in repo.newest_successes if s.empty]
        if not judged:
            return Ok, repo.newest_completed
        return max(judged, key=lambda item: (RANK[item[0]], item[1].ended_ms, not repo.succeeded(item[1])))

    @staticmethod
    def _ended(snap, success, now_ms):
        """Why a failure that started before the newest success is judged:
        it ended after that success did, or no success of its own policy
        (or of no policy) came after it."""
        if snap.start_ms >= success.start_ms:
            return ""
        if snap.ended_ms >= success.ended_ms:
            ended = ago(max(0, now_ms - snap.ended_ms) // 1000)
            return f", ended {ended}, after the last success {clean(success.name)} " \
                   f"({format_duration(success.age_s(now_ms))} old)"
        group = f"of policy {clean(snap.policy)!r}" if snap.policy else "without a policy"
        return f", no success {group} since"


class SkewContext(nagiosplugin.Context):
    """Snapshots starting more than an hour in the future (snapshots.py)."""

    def evaluate(self, metric, resource):
        repo, now_ms = metric.value, resource.survey.now_ms
        snap = max(repo.skewed, key=lambda s: s.start_ms)  # the furthest ahead
        ahead = format_duration((snap.start_ms - now_ms) // 1000)
        return Result(Warn, f"{clean(snap.name)} starts {ahead} in the future: clock skew on the "
                            f"cluster? (repo {clean(repo.name)})", metric, about_repository(repo.name))


class _ThresholdContext(nagiosplugin.ScalarContext):
    """A ScalarContext whose hint is a sentence; subclasses say which, and
    what the measure is about: ``about(survey)`` gives the repository's name
    and the object the sentence speaks of (a snapshot, or the Repository)."""

    def evaluate(self, metric, resource):
        result = super().evaluate(metric, resource)
        limit = {Critical: self.critical, Warn: self.warning}.get(result.state)
        repository, subject = self.about(resource.facts, resource.survey)
        return Result(result.state, self.sentence(metric.value, subject, limit, repository), metric,
                      about_repository(repository))

    @staticmethod
    def _repository(survey, name):
        return next((r for r in survey.repositories if r.name == name), None)


class AgeContext(_ThresholdContext):
    """Age of the newest success (of the stalest repository) against -w/-c."""

    @staticmethod
    def about(facts, _survey):
        return facts.stalest.repository, facts.stalest

    def sentence(self, seconds, snap, limit, _repository):
        if limit is None:
            return f"{clean(snap.name)} SUCCESS, {format_duration(seconds)} old (repo {clean(snap.repository)})"
        return (f"newest success {clean(snap.name)} is {beyond(seconds, limit)} old, "
                f"{describe_range(limit)} (repo {clean(snap.repository)})")


class RunningContext(_ThresholdContext):
    """How long the longest-running snapshot of any repository has run.

    Nothing running is never a problem, whatever the range says (a
    lower-bounded -w 10800: would otherwise turn "none" into WARNING)."""

    def evaluate(self, metric, resource):
        if resource.facts.longest_running is None:
            return Result(Ok, "no snapshot running", metric)
        return super().evaluate(metric, resource)

    @staticmethod
    def about(facts, _survey):
        return facts.longest_running.repository, facts.longest_running

    def sentence(self, seconds, snap, limit, _repository):
        text = f"{clean(snap.name)} IN_PROGRESS for {format_duration(seconds)}"
        if limit is not None:
            text = (f"{clean(snap.name)} IN_PROGRESS for {beyond(seconds, limit)}, "
                    f"{describe_range(limit)}")
        return f"{text} (repo {clean(snap.repository)})"


class StreakContext(_ThresholdContext):
    """Completed snapshots in a row, at the head of a repository, not a success."""

    def about(self, facts, survey):
        name = facts.streak_repository
        return name, self._repository(survey, name)

    def sentence(self, count, repo, limit, repository):
        text = f"{count} snapshot{'s' if count != 1 else ''} in a row not successful"
        if repo is not None and repo.streak_is_lower_bound:
            text = f"at least {text} (older ones not read)"
        if limit is not None:
            text += f" (limit {limit})"
        return f"{text} (repo {clean(repository)})"


class RecentContext(_ThresholdContext):
    """--failed-in-last N: how many of a repository's last N completed
    snapshots were no success (the repository where most were)."""

    def __init__(self, name, warning=None, critical=None, count=0):
        super().__init__(name, warning, critical)
        self.count = count

    def about(self, facts, survey):
        name = facts.recent_repository
        return name, self._repository(survey, name)

    def sentence(self, failed, repo, limit, repository):
        read = sum(1 for s in repo.snapshots if not s.running) if repo is not None else self.count
        text = f"{failed} of the last {min(self.count, read)} snapshots not successful"
        if limit is not None:
            text += f" (limit {limit})"
        return f"{text} (repo {clean(repository)})"


# A policy may start a few minutes late; an hour late it did not start.
MISSED_SCHEDULE_GRACE_MS = 3600 * 1000


class SlmContext(nagiosplugin.Context):
    """Snapshot lifecycle management (Elasticsearch SLM, OpenSearch snapshot
    management): stopped, disabled, or a policy that stopped working."""

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
            problems.extend(self._policy_problems(policy, now_ms))
        if not problems:
            return Result(Ok, f"SLM {facts.mode or 'policies'} OK", metric)
        state = worst(*(state for state, _ in problems))
        return Result(state, "; ".join(text for _, text in problems), metric)

    @staticmethod
    def _policy_problems(policy, now_ms):
        name = clean(policy.name)
        ahead = now_ms + SKEW_TOLERANCE_MS
        if not policy.enabled:
            yield Warn, f"SLM policy {name!r} is disabled: scheduled snapshots are not taken"
        elif policy.next_ms is not None and policy.next_ms + MISSED_SCHEDULE_GRACE_MS < now_ms:
            due = ago((now_ms - policy.next_ms) // 1000)
            yield Warn, f"SLM policy {name!r} missed its schedule (due {due})"
        for label, when in (("success", policy.last_success_ms), ("failure", policy.last_failure_ms)):
            if when and when > ahead:
                yield Warn, (f"SLM policy {name!r} last {label} is {format_duration((when - now_ms) // 1000)} "
                             f"in the future: clock skew on the cluster?")
        if policy.last_failure_ms and policy.last_failure_ms > (policy.last_success_ms or 0):
            when = ago(max(0, now_ms - policy.last_failure_ms) // 1000)
            detail = f": {clean_reason(policy.last_failure_details, 80)}" if policy.last_failure_details else ""
            yield Warn, f"SLM policy {name!r} last run failed {when}{detail}"
        if policy.deletion_failure_ms:
            when = ago(max(0, now_ms - policy.deletion_failure_ms) // 1000)
            details = policy.deletion_failure_details
            detail = f": {clean_reason(details, 80)}" if details else ""
            yield Warn, f"SLM policy {name!r} last deletion failed {when}{detail}"


HEALTH_LEVELS = {"green": Ok, "yellow": Warn, "red": Critical}


class HealthContext(nagiosplugin.Context):
    """An indicator of Elasticsearch's own health report (ES >= 8.7)."""

    def evaluate(self, metric, resource):
        indicator = metric.value
        state = HEALTH_LEVELS.get(indicator.status, Unknown)
        symptom = f": {clean_reason(indicator.symptom, 80)}" if indicator.symptom else ""
        return Result(state, f"health {indicator.name} is {clean(indicator.status, 16)}{symptom}", metric,
                      "health:" + indicator.name)


class ShownThresholdContext(nagiosplugin.ScalarContext):
    """Perfdata with thresholds for graphs, never judged: the per-repository
    <repo>_age and <repo>_running carry the thresholds of age and running,
    whose judgement (of the stalest, the longest-running) already names the
    repository."""

    def evaluate(self, metric, resource):
        return Result(Ok, "", metric)
