"""What a user installs: the sdist and the wheel, built as a release would be,
checked by twine, and the wheel installed into a venv of its own.

Installing the sdist with its dependencies from PyPI and running its tests
is slower and needs the network: .ci/run does that, on the lowest Python
version setup.cfg claims.
"""
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import nagiosplugin
import pytest
import requests

from plugin import __version__
from tests.conftest import ROOT

CONF = (ROOT / "icinga" / "es_snapshot.conf").read_text()
SHARED = ("es_snapshot.conf", "services.conf", "director-basket.json", "vars.md",
          "nagios.cfg", "nrpe.cfg")


def run(*args, cwd=None):
    """(exit code, stdout, stderr).  Runs of the installed plugin pass the
    venv as cwd: the checkout's check_es_snapshot.py would shadow it."""
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL, timeout=300, cwd=cwd)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """(sdist, wheel) as `python -m build` makes them: the wheel from the sdist."""
    out = tmp_path_factory.mktemp("dist")
    code, stdout, stderr = run(sys.executable, "-m", "build", "--outdir", out, ROOT)
    assert code == 0, stdout[-3000:] + stderr[-3000:]
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh venv with the wheel and nothing else (no dependencies)."""
    path = tmp_path_factory.mktemp("venv")
    code, _, stderr = run(sys.executable, "-m", "venv", "--without-pip", path)
    assert code == 0, stderr
    python = path / "bin" / "python"
    code, stdout, stderr = run(sys.executable, "-m", "pip", "--python", python, "install",
                               "--no-deps", "--no-index", "--quiet", dist[1])
    assert code == 0, stdout + stderr
    return path


def site_packages(venv):
    code, stdout, _ = run(venv / "bin" / "python", "-c",
                          "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=venv)
    assert code == 0
    return Path(stdout.strip())


@pytest.fixture
def with_dependencies(venv):
    """The venv borrows nagiosplugin and requests from the running one through
    a .pth file, which site appends after the venv's own site-packages: the
    wheel's copy of check_es_snapshot still comes first, and no network."""
    pth = site_packages(venv) / "borrowed_dependencies.pth"
    pth.write_text("".join(f"{Path(module.__file__).parent.parent}\n"
                           for module in (nagiosplugin, requests)))
    yield venv
    pth.unlink()


def test_twine_accepts_sdist_and_wheel(dist):
    code, stdout, stderr = run(sys.executable, "-m", "twine", "check", "--strict", *dist)
    assert code == 0, stdout + stderr
    assert stdout.count("PASSED") == 2


def test_sdist_holds_the_whole_project(dist):
    with tarfile.open(dist[0]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for name in ("README.md", "SECURITY.md", "LICENSE", "CHANGELOG.md", "setup.cfg",
                 "pyproject.toml", "check_es_snapshot.py", ".ci/run"):
        assert name in names
    # Every file of these folders, so the sdist's own tests can run.
    for folder in ("plugin", "tests", "icinga"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert str(path.relative_to(ROOT)) in names


def test_wheel_holds_the_package_and_the_shared_files(dist):
    with zipfile.ZipFile(dist[1]) as archive:
        names = archive.namelist()
    data = f"check_es_snapshot-{__version__}.data/data/share/check_es_snapshot/"
    assert sorted(n[len(data):] for n in names if n.startswith(data)) == sorted(SHARED)
    assert "check_es_snapshot/es_snapshot.conf" in names
    assert f"check_es_snapshot-{__version__}.dist-info/licenses/LICENSE" in names


def test_wheel_installs_check_es_snapshot_and_nothing_else(venv):
    installed = {p.name for p in site_packages(venv).iterdir()} - {"borrowed_dependencies.pth"}
    assert installed == {"check_es_snapshot", f"check_es_snapshot-{__version__}.dist-info"}


def test_wheel_install_carries_bytecode_for_every_module(venv):
    """pip compiles what it installs: a check run then loads bytecode instead
    of compiling the package (about 25 ms) on every run."""
    package = site_packages(venv) / "check_es_snapshot"
    code, tag, _ = run(venv / "bin" / "python", "-c", "import sys; print(sys.implementation.cache_tag)", cwd=venv)
    assert code == 0
    sources = sorted(p.stem for p in package.glob("*.py"))
    compiled = sorted(p.name.split(".")[0] for p in (package / "__pycache__").glob(f"*.{tag.strip()}.pyc"))
    assert sources and compiled == sources


def test_wheel_installs_icinga_and_nagios_files_under_share(venv):
    share = venv / "share" / "check_es_snapshot"
    assert sorted(p.name for p in share.iterdir()) == sorted(SHARED)
    for name in SHARED:
        assert (share / name).read_bytes() == (ROOT / "icinga" / name).read_bytes()


def test_console_script_says_unknown_without_its_dependencies(venv):
    assert run(venv / "bin" / "check_es_snapshot", "-V", cwd=venv) == (
        3, "ES_SNAPSHOT UNKNOWN - missing Python module nagiosplugin\n", "")


def test_console_script_runs_the_installed_package(with_dependencies):
    venv = with_dependencies
    code, stdout, _ = run(venv / "bin" / "python", "-c",
                          "import check_es_snapshot; print(check_es_snapshot.__file__)",
                          cwd=venv)
    assert code == 0 and Path(stdout.strip()).is_relative_to(venv)  # the wheel's, not ours
    assert run(venv / "bin" / "check_es_snapshot", "-V", cwd=venv) == (
        3, f"check_es_snapshot {__version__}\n", "")
    assert run(venv / "bin" / "python", "-m", "check_es_snapshot", "-V", cwd=venv) == (
        3, f"check_es_snapshot {__version__}\n", "")


def test_installed_plugin_prints_the_icinga_conf(with_dependencies):
    venv = with_dependencies
    assert run(venv / "bin" / "check_es_snapshot", "--print-icinga-conf", cwd=venv) == (
        3, CONF, "")


def test_checkout_script_prints_the_icinga_conf():
    assert run(sys.executable, ROOT / "check_es_snapshot.py", "--print-icinga-conf",
               cwd=ROOT) == (3, CONF, "")


def test_changelog_names_the_current_version_first():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert re.search(r"^## (\S+)", changelog, re.M).group(1) == __version__


def test_ci_tests_the_lowest_and_newest_python_claimed():
    cfg = (ROOT / "setup.cfg").read_text()
    floor = re.search(r"^python_requires = >=(3\.\d+)$", cfg, re.M).group(1)
    claimed = sorted(re.findall(r"Programming Language :: Python :: 3\.(\d+)$", cfg, re.M), key=int)
    in_ci = re.findall(r'"\$\(interpreter (3\.\d+)\)"', (ROOT / ".ci" / "run").read_text())
    assert f"3.{claimed[0]}" == floor
    assert {floor, f"3.{claimed[-1]}"} <= set(in_ci)
