"""One deadline for the whole run, enforced by the kernel's timer.

requests' read timeout applies to each socket read, not to a response: a
server that trickles one byte a second keeps a check alive far past ``-t``.
An interval timer interrupts whatever blocks instead.  It fires first at the
network budget (``-t`` minus a margin for judging and printing), where the
client turns it into "timed out" (CRITICAL); if the run still has not
finished when ``-t`` itself is reached, the plugin gives up as UNKNOWN.
"""
import signal
import time


class DeadlineExceeded(BaseException):
    """Raised from the timer signal.

    A BaseException, so that no ``except Exception`` in requests, urllib3
    or this plugin can swallow it on its way out.
    """


class Deadline:
    def __init__(self, seconds, clock=time.monotonic, started=None):
        self.seconds = seconds
        self.clock = clock
        self.margin = min(1.0, seconds * 0.2)
        # started: when the process began (supervisor.py), so that start-up
        # time counts against -t as the operator measures it.
        self.started = clock() if started is None else started
        self._armed = False

    @property
    def network_budget(self):
        return self.seconds - self.margin

    def remaining(self):
        """Seconds left for network work."""
        return self.network_budget - (self.clock() - self.started)

    def arm(self):
        signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.remaining()))
        self._armed = True

    def disarm(self):
        if self._armed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            self._armed = False

    def _fire(self, signum, frame):
        # The second firing, half the margin later, ends the run for good,
        # before the supervisor's own hard stop at -t.
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.margin / 2))
        raise DeadlineExceeded()
