"""One verdict whatever the view: generated repositories (states, overlapping
start and end times, running snapshots, ages around the thresholds, several
repositories, policies, snapshots of no index) give the same exit state at
every verbosity and in every --format, and the same facts in perfdata, JSON
and OpenMetrics.  In-process (tests/incheck.py), so each example costs a few
milliseconds per view."""
import json
import re

from hypothesis import given, settings, strategies as st
from prometheus_client.parser import text_string_to_metric_families

from plugin.openmetrics import FACTS
from plugin.resource import perf_label
from tests.conftest import NOW_MS
from tests.fake_es import Cluster, Snap
from tests.incheck import run_main

S = 1000
# -w and -c are 26h and 2d2h by default; the look-back window reaches 1h
# beyond -c.  Completed snapshots start inside it, so every view reads the
# same ones (what lies beyond is the reading code's affair, not this test's).
START_AGES_S = [0, 60, 3600, 93_599, 93_600, 93_601, 179_999, 180_000, 180_001]
RUNNING_AGES_S = START_AGES_S + [260_000, 108_001]
DURATIONS_S = [0, 1, 60, 3600, 5 * 3600]
STATES = ["SUCCESS", "SUCCESS", "FAILED", "PARTIAL", "INCOMPATIBLE"]

completed = st.builds(
    lambda state, age, duration, policy, empty: dict(
        state=state, start_ms=NOW_MS - age * S, duration_ms=min(duration, age) * S, policy=policy,
        shards_total=0 if empty else 5, shards_failed=0 if empty or state != "PARTIAL" else 2),
    st.sampled_from(STATES), st.sampled_from(START_AGES_S), st.sampled_from(DURATIONS_S),
    st.sampled_from(["", "hourly", "full"]), st.booleans())
running = st.builds(lambda age: dict(state="IN_PROGRESS", start_ms=NOW_MS - age * S),
                    st.sampled_from(RUNNING_AGES_S))
repository = st.lists(st.one_of(completed, completed, completed, running), max_size=5)
repositories = st.lists(repository, min_size=1, max_size=3)
families = st.sampled_from(["es8", "es7.10", "os2"])
extra_args = st.sampled_from([(), ("--failed-in-last", "3"), ("--empty-snapshot-state", "ok"),
                              ("-w", "1h", "-c", "30h")])


def cluster_of(family, repos):
    named = {}
    for number, snaps in enumerate(repos):
        name = f"repo-{number}"
        named[name] = [Snap(f"{name}-s{i}", **fields) for i, fields in enumerate(snaps)]
    return Cluster(family, named)


def perfdata(line):
    values = {}
    for token in line.split(" | ", 1)[1].split():
        label, value = token.split("=", 1)
        number = re.match(r"-?\d+", value.split(";")[0])
        values[label.strip("'")] = int(number.group())
    return values


@settings(max_examples=30, deadline=None)
@given(families, repositories, extra_args)
def test_one_verdict_and_one_set_of_facts_in_every_view(family, repos, args):
    cluster = cluster_of(family, repos)
    code, out, _ = run_main(cluster, *args)
    assert code in (0, 1, 2, 3) and " | " in out.splitlines()[0], out
    state = out.split(" - ", 1)[0]
    for verbose in ("-v", "-vv", "-vvv"):
        again, text, _ = run_main(cluster, *args, verbose)
        assert (again, text.split(" - ", 1)[0]) == (code, state), (verbose, out, text)

    json_code, text, _ = run_main(cluster, *args, "--format", "json")
    document = json.loads(text)
    om_code, exposition, _ = run_main(cluster, *args, "--format", "openmetrics")
    assert json_code == om_code == code and document["exit_code"] == code

    perf = perfdata(out.splitlines()[0])
    assert {label: m["value"] for label, m in document["metrics"].items()} == perf
    samples = {(s.name, s.labels.get("repository")): s.value
               for f in text_string_to_metric_families(exposition) for s in f.samples}
    assert samples[("es_snapshot_check_state", None)] == code

    facts = {repo["name"]: repo["facts"] for repo in document["repositories"]}
    for name, numbers in facts.items():
        in_exposition = {label: samples[(metric, name)] for label, (metric, _) in FACTS.items()
                         if (metric, name) in samples}
        assert in_exposition == numbers, name
        if len(facts) >= 2:  # the perfdata's own labels per repository
            labels = ("age", "duration", "size", "running", "failed_streak")
            shown = {label: perf[f"{perf_label(name)}_{label}"] for label in labels
                     if f"{perf_label(name)}_{label}" in perf}
            assert shown == {label: numbers[label] for label in labels if label in numbers}, name
    # The run's facts are those of the stalest, longest-running, worst repository.
    for label, pick in (("age", max), ("running", max), ("failed_streak", max), ("failed_recent", max)):
        values = [n[label] for n in facts.values() if label in n]
        assert perf.get(label) == (pick(values) if values else None), label
    for label in ("duration", "shards_failed"):
        values = [n[label] for n in facts.values() if label in n]
        assert (perf.get(label) in values) if values else label not in perf, label
