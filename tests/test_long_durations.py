"""Ages of a year or more read in years and days; thresholds take y and w.

Perfdata stays in seconds whatever the text says.
"""
import email.utils
import time

import nagiosplugin
import pytest
import responses

from plugin.client import EsClient
from plugin.durations import DurationError, format_duration, parse_age_range, parse_duration
from plugin.errors import EsError
from plugin.options import UsageError, parse_settings
from tests.conftest import NOW_MS
from tests.fake_es import Cluster, Snap
from tests.incheck import judged

S = 1000
DAY = 86400
YEAR = 365 * DAY


def snap(name, state="SUCCESS", age_s=3600, **kw):
    return Snap(name, state, NOW_MS - age_s * S, **kw)


def run(repositories, *args, family="es8"):
    return judged(Cluster(family, repositories), *args)


@pytest.mark.parametrize("seconds, text", [
    (YEAR - 1, "364d23h"), (YEAR, "1y"), (YEAR + 59, "1y"), (YEAR + DAY, "1y1d"),
    (2338 * DAY + 7 * 3600, "6y148d"), (10 * YEAR, "10y"), (14 * DAY, "14d"),
])
def test_format_duration_years_and_days(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text, seconds", [
    ("1y", YEAR), ("2w", 14 * DAY), ("1y2w3d", YEAR + 17 * DAY), ("1Y", YEAR), ("0.5y", YEAR // 2),
])
def test_parse_duration_years_and_weeks(text, seconds):
    assert parse_duration(text) == seconds


def test_parse_age_range_in_years():
    assert parse_age_range("@1y:2y") == f"@{YEAR}:{2 * YEAR}"


def test_unknown_threshold_beyond_ten_years_is_refused():
    with pytest.raises(DurationError):
        parse_duration("11y")
    with pytest.raises(UsageError, match="longer than ten years"):
        parse_settings(["-c", "11y"], environ={})


def test_crit_six_year_old_success_reads_in_years_and_days():
    age = 2338 * DAY + 7 * 3600
    # ES 6 lists every snapshot; 8.x would only look back from -c (see reader.py).
    check = run({"b": [snap("ancient", age_s=age)]}, family="es6")
    assert check.exitcode == 2
    assert check.summary_str == "newest success ancient is 6y148d old, more than 2d2h (repo b)"
    assert f"age={age}s;93600;180000;0" in check.perfdata


def test_ok_year_thresholds_with_a_young_snapshot():
    check = run({"b": [snap("s1", age_s=200 * DAY)]}, "-w", "1y", "-c", "2y")
    assert (check.exitcode, check.summary_str) == (0, "s1 SUCCESS, 200d old (repo b)")
    assert f"age={200 * DAY}s;{YEAR};{2 * YEAR};0" in check.perfdata


def test_warn_older_than_a_year_threshold():
    check = run({"b": [snap("s1", age_s=YEAR + 3 * DAY)]}, "-w", "1y", "-c", "2y")
    assert (check.exitcode, check.summary_str) == (1, "newest success s1 is 1y3d old, more than 1y (repo b)")


def test_crit_week_thresholds():
    check = run({"b": [snap("s1", age_s=15 * DAY)]}, "-w", "1w", "-c", "2w")
    assert (check.exitcode, check.summary_str) == (2, "newest success s1 is 15d old, more than 14d (repo b)")


def test_crit_failed_a_year_ago_reads_in_years():
    check = run({"b": [snap("s0", "FAILED", age_s=YEAR + 40 * DAY, reason="disk full")]}, family="es6")
    assert check.exitcode == 2
    assert check.summary_str.startswith("s0 FAILED 1y40d ago: disk full, no successful snapshot")


def test_crit_running_for_over_a_year_reads_in_years():
    check = run({"b": [snap("old", age_s=YEAR + 2 * DAY),
                       snap("stuck", "IN_PROGRESS", age_s=YEAR + DAY)]}, "-w", "2y", "-c", "3y",
                "--running-warning", "1d", "--running-critical", "1w")
    assert check.exitcode == 2
    assert check.summary_str == "stuck IN_PROGRESS for 1y1d, more than 7d (repo b)"
    assert f"running={YEAR + DAY}s;86400;604800;0" in check.perfdata


def test_ok_verbose_run_time_of_a_year_reads_in_years():
    check = run({"b": [snap("slow", age_s=YEAR + 10 * DAY, duration_ms=(YEAR + 2 * DAY) * S)]},
                "-w", "2y", "-c", "3y")
    assert check.exitcode == 0
    lines = check.summary.verbose(check.results)
    assert any(line.startswith("  slow SUCCESS ") and " took 1y2d " in line for line in lines), lines
    assert f"duration={YEAR + 2 * DAY}s;;;0" in check.perfdata


@responses.activate
def test_crit_retry_after_a_date_months_ahead_reads_in_years():
    class Budget:
        network_budget = 9.0

        def remaining(self):
            return 9.0

    when = email.utils.formatdate(time.time() + 400 * DAY + 12 * 3600, usegmt=True)
    responses.get("http://es.example:9200/", status=503, headers={"Retry-After": when}, json={})
    with pytest.raises(EsError) as err:
        EsClient("http://es.example:9200", deadline=Budget()).get("/")
    assert err.value.state == nagiosplugin.Critical
    assert "(Retry-After 1y35d does not fit in -t)" in str(err.value)
