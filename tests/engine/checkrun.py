"""The check as an operator runs it: a subprocess, its exit code and output."""
import os
import subprocess

from tests.fake_es import _check_command


def check(node, *args, url=None, timeout=60):
    """CompletedProcess of one check run against ``node`` (or ``url``)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for name in ("ES_PASSWORD", "ES_API_KEY", "ES_BEARER_TOKEN"):  # for a cluster of the user's own
        if name in os.environ:
            env[name] = os.environ[name]
    command = [*_check_command(), "--url", url or node.url, *node.check_args, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def first_line(stdout):
    """The status line without its perfdata."""
    return stdout.splitlines()[0].split(" | ")[0] if stdout else ""
