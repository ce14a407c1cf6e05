"""Presentation: the status line and the long output an operator reads."""
from datetime import datetime, timezone

import nagiosplugin
from nagiosplugin import Ok

from .durations import format_duration
from .wording import clean, clean_reason

RECENT_PER_REPOSITORY = 10
FAILURES_SHOWN = 3
# Nagios keeps 8 KB of plugin output: this much for the long output, the
# log at -vv/-vvv gets cli.LOG_BUDGET, status and perfdata the rest.
LONG_OUTPUT_BUDGET = 5000


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def human_bytes(size):
    if size is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return "-"


class SnapshotSummary(nagiosplugin.Summary):
    def __init__(self, resource, notes=()):
        self.resource = resource
        self.notes = list(notes)

    def ok(self, results):
        repo_results = [r for r in results if r.metric and r.metric.name == "repository"]
        stalest = self.resource.survey.stalest if self.resource.survey else None
        lead = next((r for r in repo_results if stalest and r.metric.value.name == stalest.repository),
                    repo_results[0] if repo_results else results[0])
        text = lead.hint or str(lead)
        if len(repo_results) > 1:
            text += f"; {len(repo_results)} repositories OK"
        return text

    def problem(self, results):
        first = results.first_significant
        others = {r.metric.value.name for r in results
                  if r.state != Ok and r.metric and r.metric.name == "repository"
                  and r is not first}
        if first.metric and first.metric.name == "repository":
            others.discard(first.metric.value.name)
        text = first.hint or str(first)
        if others:
            text += f" (+{len(others)} more)"
        return text

    def verbose(self, results):
        lines = [f"{r.state.text.upper()}: {r.hint}" for r in results if r.state != Ok]
        lines += [f"note: {n}" for n in self.notes]
        survey = self.resource.survey
        if survey is not None:
            lines.append(f"cluster: {survey.info.label}")
            for repo in survey.repositories:
                lines.extend(self._repository_lines(repo, survey.now_ms))
        return self._fit(lines)

    @staticmethod
    def _repository_lines(repo, now_ms):
        if repo.missing:
            return [f"repository {clean(repo.name)}: not registered"]
        shown = repo.snapshots[:RECENT_PER_REPOSITORY]
        lines = [f"repository {clean(repo.name)}: {len(repo.snapshots)} snapshot(s) read"
                 + (f", newest {len(shown)}:" if shown else "")]
        for snap in shown:
            lines.append(
                f"  {clean(snap.name)} {clean(snap.state, 16)} {iso(snap.start_ms)} "
                f"took {format_duration(snap.duration_s(now_ms))} size {human_bytes(snap.size_bytes)} "
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
        return lines

    @staticmethod
    def _fit(lines):
        kept, used = [], 0
        for index, line in enumerate(lines):
            if used + len(line) + 1 > LONG_OUTPUT_BUDGET:
                kept.append(f"... and {len(lines) - index} more lines")
                break
            kept.append(line)
            used += len(line) + 1
        return kept
