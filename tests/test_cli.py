"""main() itself: the run's own deadline, and unexpected errors, as one line."""
import json
import time

import pytest

from plugin import cli
from plugin.deadline import Deadline, DeadlineExceeded
from tests.incheck import main_with_client


class HangingClient:
    """Blocks outside any HTTP request, as a stuck DNS lookup would."""

    def get(self, path, params=None, *, what="", decode=None):
        time.sleep(30)


class BrokenClient:
    def get(self, path, params=None, *, what="", decode=None):
        raise ZeroDivisionError("a bug, not the cluster")


def test_unknown_when_the_run_itself_times_out():
    started = time.monotonic()
    code, out, err = main_with_client(HangingClient(), "-t", "1")
    assert time.monotonic() - started < 1.5
    assert (code, out, err) == (3, "ES_SNAPSHOT UNKNOWN - plugin timed out after 1s (-t)\n", "")


def test_unknown_internal_error_is_one_line():
    code, out, err = main_with_client(BrokenClient())
    assert (code, out, err) == (
        3, "ES_SNAPSHOT UNKNOWN - internal error: ZeroDivisionError: a bug, not the cluster\n", "")


def test_vvv_shows_the_traceback():
    code, out, err = main_with_client(BrokenClient(), "-vvv")
    lines = out.splitlines()
    assert code == 3 and lines[0].startswith("ES_SNAPSHOT UNKNOWN - internal error: ZeroDivisionError")
    assert "Traceback (most recent call last):" in lines and err == ""


def test_deadline_fires_at_the_budget_and_again_before_t():
    deadline = Deadline(1.0)
    deadline.arm()
    try:
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded):
            time.sleep(5)
        first = time.monotonic() - started
        with pytest.raises(DeadlineExceeded):
            time.sleep(5)
        second = time.monotonic() - started
    finally:
        deadline.disarm()
    # budget 0.8 s, then half the margin: before the supervisor's hard stop at -t
    assert 0.75 < first < 0.9 and 0.85 < second < 1.0


def test_json_when_the_run_itself_times_out():
    code, out, err = main_with_client(HangingClient(), "-t", "1", "--format", "json")
    document = json.loads(out)
    assert (code, document["state"], document["exit_code"]) == (3, "UNKNOWN", 3)
    assert document["summary"] == "plugin timed out after 1s (-t)"
    assert sorted(document) == ["cluster", "exit_code", "health", "metrics", "notes", "plugin",
                                "reasons", "repositories", "slm", "state", "summary", "version"]


def test_vvv_internal_error_line_is_one_clean_line():
    class NastyClient:
        def get(self, path, params=None, *, what="", decode=None):
            raise RuntimeError("first line\nsecond | line")

    code, out, err = main_with_client(NastyClient(), "-vvv")
    assert code == 3
    assert out.splitlines()[0] == "ES_SNAPSHOT UNKNOWN - internal error: RuntimeError: first line second / line"


def test_boundary_closes_quietly_after_its_stream_was_closed(tmp_path):
    """Python 3.13 flushes an io object when it is collected: a boundary
    collected after the stream it wrote to was closed must not raise then.
    (A file, not a StringIO: a closed StringIO's flush does not raise on 3.11.)"""
    stream = open(tmp_path / "stdout", "w")
    boundary = cli._Boundary(stream)
    boundary.write("ES_SNAPSHOT OK\n")
    boundary.flush()
    stream.close()
    assert (tmp_path / "stdout").read_text() == "ES_SNAPSHOT OK\n"
    boundary.flush()  # what collection calls: nothing held, nothing to write, no ValueError
    boundary.close()


def test_boundary_still_fails_to_write_held_text_to_a_closed_stream(tmp_path):
    stream = open(tmp_path / "stdout", "w")
    boundary = cli._Boundary(stream)
    boundary.write("held")
    stream.close()
    with pytest.raises(ValueError):
        boundary.flush()
