"""The simulated cluster without sockets, for in-process judgement tests.

It stands where EsClient stands and answers through the same Cluster logic
the end-to-end tests serve over HTTP; failures become the EsError the real
client would raise.
"""
import json
from types import SimpleNamespace

from plugin.client import EsClient


class SimClient:
    def __init__(self, cluster):
        self.cluster = cluster
        self.requests_made = []
        self._reader = SimpleNamespace(where="the simulated cluster", redact=str)

    def totals(self):
        return len(self.requests_made), 0, 0.0

    def get(self, path, params=None, *, what="request", decode=None):
        params = {k: str(v) for k, v in (params or {}).items()}
        status, body, loads = self.cluster.handle(path, params)
        self.cluster.log.append({"method": "GET", "path": path, "params": params,
                                 "status": status, "bytes": 0, "loads": loads})
        self.requests_made.append(path)
        if status != 200:
            # The real client's reading of an error body (types, root causes).
            raise EsClient._status_error(self._reader, status, body, what)
        return decode(json.dumps(body).encode()) if decode else body
