"""``--format json``: one document for scripts and cron jobs, same exit code."""
import json

from nagiosplugin import Ok

from . import __version__
from .wording import cut, iso


def _iso(ms):
    return iso(ms) if ms else None


def _document(state, exit_code, summary, reasons, notes=(), metrics=None):
    """The keys every document has, whether or not the cluster was read."""
    return {"plugin": "check_es_snapshot", "version": __version__, "state": state,
            "exit_code": exit_code, "summary": summary, "reasons": list(reasons),
            "notes": list(notes), "metrics": metrics or {},
            "cluster": None, "repositories": [], "slm": None, "health": None}


def _snapshot(snap, now_ms):
    if snap is None:
        return None
    return {"name": snap.name, "repository": snap.repository, "state": snap.state,
            "start": _iso(snap.start_ms), "age_s": snap.age_s(now_ms),
            "duration_s": snap.duration_s(now_ms), "size_bytes": snap.size_bytes,
            "shards_total": snap.shards_total, "shards_failed": snap.shards_failed,
            "reason": snap.reason or None, "policy": snap.policy or None,
            "shard_failures": [{"index": f.index, "shard": f.shard, "reason": f.reason}
                               for f in snap.failures[:10]]}


def _metrics(check, resource):
    metrics = {}
    for result in check.results:
        metric = result.metric
        performance = metric.contextobj.performance(metric, resource) if metric and metric.contextobj else None
        if performance is not None:
            metrics[performance.label] = {"value": performance.value, "uom": performance.uom or None,
                                          "warning": str(performance.warn) or None,
                                          "critical": str(performance.crit) or None}
    return metrics


# A JSON document is read by scripts, not by Nagios, but it must stay small
# whatever the cluster sends: text values are cut, repositories beyond what
# fits are left out (and counted).  The limits are output.py's, which
# renders every document through here.


def _bounded(value, text_limit):
    """Every string redacted and cut, recursively (see wording.cut)."""
    if isinstance(value, str):
        return cut(value, text_limit)
    if isinstance(value, dict):
        return {cut(str(k), text_limit): _bounded(v, text_limit) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_bounded(v, text_limit) for v in value]
    return value


def _dumps(document, text_limit, document_limit):
    document = _bounded(document, text_limit)
    text = json.dumps(document, indent=2)
    repositories = document.get("repositories") or []
    total = len(repositories)
    while len(text) > document_limit and repositories:
        repositories = repositories[:min(len(repositories) - 1,
                                         len(repositories) * document_limit // len(text))]
        document["repositories"] = repositories
        document["repositories_omitted"] = total - len(repositories)
        text = json.dumps(document, indent=2)
    return text


def json_report(check, resource, notes=(), *, text_limit, document_limit):
    survey = resource.survey
    document = _document(str(check.state).upper(), check.exitcode, check.summary_str,
                         [result.hint for result in check.results if result.state != Ok],
                         notes, _metrics(check, resource))
    if survey is not None:
        now = survey.now_ms
        document["notes"].extend(survey.extras)  # an optional extra this cluster lacks
        document["cluster"] = {"distribution": survey.info.distribution, "version": survey.info.number}
        document["repositories"] = [{
            "name": repo.name, "missing": repo.missing, "snapshots_read": len(repo.snapshots),
            "failed_streak": facts.failed_streak, "failed_streak_is_lower_bound": facts.streak_is_lower_bound,
            # The perfdata's numbers of this repository (resource.RepositoryFacts).
            "facts": facts.numbers(),
            "newest": _snapshot(repo.newest, now),
            "set_aside_clock_skew": [_snapshot(s, now) for s in repo.skewed],
            "newest_completed": _snapshot(facts.newest_completed, now),
            "newest_success": _snapshot(facts.newest_success, now),
            "running": [_snapshot(s, now) for s in facts.running]}
            for repo, facts in zip(survey.repositories, resource.facts.repositories)]
        if survey.slm is not None:
            document["slm"] = {"mode": survey.slm.mode, "policies": [
                {"name": p.name, "repository": p.repository, "next_execution": _iso(p.next_ms),
                 "last_success": _iso(p.last_success_ms), "last_failure": _iso(p.last_failure_ms),
                 "last_failure_details": p.last_failure_details or None} for p in survey.slm.policies]}
        if survey.health is not None:
            document["health"] = {i.name: {"status": i.status, "symptom": i.symptom} for i in survey.health}
    return _dumps(document, text_limit, document_limit)


def json_failure(summary, exit_code=3, *, text_limit, document_limit):
    """The document for a run that ended before the check could (timeout)."""
    state = {0: "OK", 1: "WARNING", 2: "CRITICAL"}.get(exit_code, "UNKNOWN")
    return _dumps(_document(state, exit_code, summary, [summary]), text_limit, document_limit)
