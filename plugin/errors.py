"""The one failure type, kept free of requests so that importing it is cheap."""
import nagiosplugin


class EsError(Exception):
    """A failure that decides the check's outcome by itself.

    It carries the state it deserves: network-level faults and HTTP 5xx are
    CRITICAL, authentication and protocol errors UNKNOWN.
    """

    def __init__(self, message, state=nagiosplugin.Unknown, status=None, error_type="", reason=""):
        super().__init__(message)
        self.reason = reason  # the cluster's whole reason (redacted), uncut
        self.state = state
        self.status = status
        self.error_type = error_type
