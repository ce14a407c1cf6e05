"""README, --help and CI say the same thing."""
import re
import subprocess
import sys

import pytest

from plugin.options import build_parser
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.fixture
def help_text(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    return build_parser().format_help()


@pytest.mark.skipif(sys.version_info >= (3, 13), reason="argparse 3.13 writes '-H, --hostname HOSTNAME': "
                    "the README carries the help of Debian 12's Python 3.11, held there")
def test_readme_carries_help_verbatim(help_text):
    assert "```\n" + help_text + "```\n" in README


def test_help_fits_80_columns(help_text):
    assert max(len(line) for line in help_text.splitlines()) <= 80


def test_perfdata_tables_agree(help_text):
    in_help = re.findall(r"^  ([a-z_]+) +(?:s|B)? +", help_text.split("Perfdata")[1], re.M)
    section = README.split("## Perfdata")[1].split("\n## ")[0]  # not the metrics tables further down
    in_readme = re.findall(r"^\| `([a-z_]+)` \|", section, re.M)
    assert in_help == in_readme == ["age", "duration", "size", "shards_failed", "running",
                                    "failed_streak", "failed_recent"]


def test_states_are_documented_in_both(help_text):
    for state in ("OK", "WARNING", "CRITICAL", "UNKNOWN"):
        assert f"\n  {state} " in help_text
        assert f"| {state} (" in README


def test_ci_runs_the_readme_test_command():
    command = re.search(r"Install and run the tests:\n\n```sh\n(.+)\n```", README).group(1)
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert command in ci


def test_readme_demo_command_uses_the_simulator():
    assert "python -m tests.fake_es --demo" in README


def test_readme_demo_runs_and_exits_0():
    result = subprocess.run([sys.executable, "-m", "tests.fake_es", "--demo"], cwd=str(ROOT),
                            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    status = [line for line in result.stdout.splitlines() if line.startswith("ES_SNAPSHOT ")]
    assert (result.returncode, result.stderr) == (0, "")
    assert [line.split(" - ")[0] for line in status] == [
        "ES_SNAPSHOT OK", "ES_SNAPSHOT OK", "ES_SNAPSHOT CRITICAL", "ES_SNAPSHOT CRITICAL"]
