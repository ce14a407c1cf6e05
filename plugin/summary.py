"""Presentation: the status line and the long output an operator reads."""
import nagiosplugin
from nagiosplugin import Ok, Unknown

from .durations import format_duration
from .wording import clean, clean_reason, human_bytes, iso

RECENT_PER_REPOSITORY = 10
FAILURES_SHOWN = 3


class SnapshotSummary(nagiosplugin.Summary):
    def __init__(self, resource, notes, budget):
        self.resource = resource
        self.notes = list(notes)
        self.budget = budget  # bytes of long output (cli passes output.LONG_OUTPUT_BUDGET)

    def ok(self, results):
        repo_results = [r for r in results if r.metric and r.metric.name == "repository"]
        stalest = self.resource.facts.stalest if self.resource.facts else None
        lead = next((r for r in repo_results if stalest and r.metric.value.name == stalest.repository),
                    repo_results[0] if repo_results else results[0])
        text = lead.hint or str(lead)
        if len(repo_results) > 1:
            text += f"; {len(repo_results)} repositories OK"
        return text

    def problem(self, results):
        """The worst result's sentence, and how many other things are wrong.

        A state the plugin does not know is never hidden behind another
        problem (a new Elasticsearch state may mean a broken backup): it is
        named after the deciding sentence."""
        first = results.first_significant
        named = [r for r in results if r is not first and r.state == Unknown
                 and r.metric and r.metric.name == "repository"]
        subjects = {self._subject(r) for r in results if r.state != Ok and r not in named}
        subjects.discard(self._subject(first))
        subjects -= {self._subject(r) for r in named}
        text = first.hint or str(first)
        if subjects:
            text += f" (+{len(subjects)} more)"
        return "; ".join([text] + [r.hint for r in named])

    @staticmethod
    def _subject(result):
        """What a result is about, as the context that judged it decided
        (contexts.Result); nagiosplugin's own results are about the run."""
        return getattr(result, "subject", None) or "cluster"

    def verbose(self, results):
        lines = [f"{r.state.text.upper()}: {r.hint}" for r in results if r.state != Ok]
        lines += [f"note: {n}" for n in self.notes]
        survey = self.resource.survey
        if survey is not None:
            lines += [f"note: {n}" for n in survey.extras]
            lines.append(f"cluster: {survey.info.label}")
            lines.extend(self._slm_lines(survey))
            for repo, facts in zip(survey.repositories, self.resource.facts.repositories):
                lines.extend(self._repository_lines(repo, facts, survey.now_ms))
        return self._fit(lines)

    @staticmethod
    def _slm_lines(survey):
        lines = []
        if survey.slm is not None:
            if survey.info.opensearch:
                # OpenSearch has no SM status to print: the heading only
                # introduces policies, and alone it reads as a cut output.
                if survey.slm.policies:
                    lines.append("snapshot management (OpenSearch):")
            else:
                lines.append(f"SLM: {survey.slm.mode or 'status not available before ES 7.6'}")
            for p in survey.slm.policies:
                line = f"  policy {clean(p.name)} (repo {clean(p.repository)}):"
                if not p.enabled:
                    line += " disabled,"
                if p.last_success_ms:
                    # OpenSearch's explain names no snapshot: no empty name then.
                    named = f" {clean(p.last_success_name)}" if p.last_success_name else ""
                    line += f" last success{named} {iso(p.last_success_ms)},"
                if p.last_failure_ms:
                    line += f" last failure {iso(p.last_failure_ms)}"
                    line += f" ({clean_reason(p.last_failure_details, 80)})," if p.last_failure_details else ","
                if p.deletion_failure_ms:
                    line += f" last deletion failure {iso(p.deletion_failure_ms)}"
                    line += (f" ({clean_reason(p.deletion_failure_details, 80)}),"
                             if p.deletion_failure_details else ",")
                # 0 is a time (1970), and judged as a missed schedule: shown as one.
                line += f" next run {iso(p.next_ms)}" if p.next_ms is not None else " no next run"
                lines.append(line)
        for indicator in survey.health or ():
            lines.append(f"health {indicator.name}: {indicator.status} - {clean_reason(indicator.symptom, 100)}")
        return lines

    @staticmethod
    def _repository_lines(repo, facts, now_ms):
        if repo.missing:
            return [f"repository {clean(repo.name)}: not registered"]
        shown = repo.snapshots[:RECENT_PER_REPOSITORY]
        # Every running snapshot is listed, however long ago it started.
        shown += tuple(s for s in facts.running if s not in shown)
        lines = [f"repository {clean(repo.name)}: {len(repo.snapshots)} snapshot(s) read"
                 + (f", newest {len(shown)}:" if shown else "")]
        for snap in repo.skewed:
            lines.append(f"  {clean(snap.name)} {clean(snap.state, 16)} {iso(snap.start_ms)} "
                         "starts in the future: set aside (clock skew?)")
        for snap in shown:
            lines.append(
                f"  {clean(snap.name)} {clean(snap.state, 16)} {iso(snap.start_ms)} "
                f"{'running for' if snap.running else 'took'} {format_duration(snap.duration_s(now_ms))} size {human_bytes(snap.size_bytes)} "
                f"shards failed {snap.shards_failed}/{snap.shards_total}")
            if snap.state in ("FAILED", "PARTIAL") or snap.reason:
                if snap.reason:
                    lines.append(f"    reason: {clean_reason(snap.reason)}")
                for failure in snap.failures[:FAILURES_SHOWN]:
                    lines.append(f"    shard {clean(failure.index)}[{clean(str(failure.shard), 8)}]: "
                                 f"{clean_reason(failure.reason, 100)}")
                if len(snap.failures) > FAILURES_SHOWN:
                    lines.append(f"    ... and {len(snap.failures) - FAILURES_SHOWN} more shard failures")
        if len(repo.snapshots) > len(shown):
            lines.append(f"  ... and {len(repo.snapshots) - len(shown)} older")
        if facts.streak_is_lower_bound:
            lines.append(f"  failed streak: at least {facts.failed_streak}; older snapshots were not read")
        return lines

    def _fit(self, lines):
        kept, used = [], 0
        for index, line in enumerate(lines):
            if used + len(line) + 1 > self.budget:
                kept.append(f"... and {len(lines) - index} more lines")
                break
            kept.append(line)
            used += len(line) + 1
        return kept
