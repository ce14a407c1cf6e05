"""The one module that speaks HTTP.

Every transport fault, HTTP status and undecodable body leaves this module as
an ``EsError`` that carries the state it deserves and a sentence an operator
can act on: network-level faults (refused, DNS, TLS, timed out) and HTTP 5xx
are CRITICAL, as the monitoring-plugins guidelines say; authentication and
protocol errors are UNKNOWN.  Messages name host:port, never a credential.
"""
import base64
import email.utils
import functools
import json
import logging
import math
import os
import re
import socket
import ssl
import threading
import time
from urllib.parse import urlencode, urlsplit
from urllib.request import getproxies

import nagiosplugin
import requests

from . import __version__
from .deadline import DeadlineExceeded
from .durations import format_duration
from .errors import EsError
from .credentials import redacted_head
from .snapshots import ResponseShapeError, decode_int, loads
from .wording import clean_reason

log = logging.getLogger("nagiosplugin.es_snapshot")

# A listing of 100,000 snapshots is about 60 MB; anything larger is not a
# snapshot listing and is refused before it fills the monitoring host's memory.
MAX_BODY_BYTES = 96 * 1024 * 1024
# Real answers carry about 100 bytes per JSON object or array; a body of
# 95 MiB of "[{},{},...]" would decode into 2.6 GB of Python objects.  One
# container per 96 bytes of the largest body accepted is far above any real
# repository and bounds what json.loads builds (about 100 MB).
MAX_CONTAINERS = MAX_BODY_BYTES // 96
# JSON numbers no field can hold (NaN, Infinity, floats beyond 64 bits,
# ints beyond Python's 4,300 digits) are decoded to OutOfRange by
# snapshots.loads, so that the field holding one is named.
CHUNK = 64 * 1024
# A string of more than LONG_STRING bytes is cut while the body arrives, to
# its first KEEP bytes and "...": the check shows a few hundred characters
# of any reason or name, and a 90 MB reason (an 87 KB gzip body) would
# otherwise cost 467 MB of memory.  Nothing but a string runs that long
# without a quote in an answer.
LONG_STRING = CHUNK
KEEP = 16 * 1024
MAX_REDIRECTS = 3
CONNECT_TIMEOUT = 5.0


class EsClient:
    def __init__(self, base_url, *, authorization=None, verify=True, cert=None,
                 use_env_proxy=True, deadline, redact=str, signer=None):
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        default_port = 443 if parts.scheme == "https" else 80
        self.where = f"{parts.hostname}:{parts.port or default_port}"
        self.deadline = deadline
        self.redact = redact
        self.requests_made = []  # (path, status, bytes, seconds) for -vv
        session = requests.Session()
        # Trust and credentials come from the command line only: with
        # trust_env, REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override --ca-cert and
        # --insecure, and ~/.netrc adds credentials (or breaks the run when
        # malformed).  The proxy variables are read here instead.
        session.trust_env = False
        session.max_redirects = MAX_REDIRECTS
        session.verify = verify
        session.cert = cert
        self.verify = verify
        self.use_env_proxy = use_env_proxy
        self.proxies = None  # read at the first request: a bad variable is its failure
        session.headers.update({
            "Accept": "application/json",
            "User-Agent": f"check_es_snapshot/{__version__}",
        })
        if authorization:
            # A session header: requests drops it when a redirect leaves the host.
            session.headers["Authorization"] = authorization
        # aws.Signer (--aws-sigv4): signs each request as it is sent, retries
        # and redirects included.
        self.signer = signer
        if signer is not None:
            signer.follow(session)
        self.session = session
        self.ahead = {}  # shown path -> Ahead: sent ahead on a second connection (plan.py)

    def totals(self):
        """(requests, bytes received, seconds waited) so far."""
        return (len(self.requests_made), sum(r[2] for r in self.requests_made),
                sum(r[3] for r in self.requests_made))

    def get(self, path, params=None, *, what="request", decode=None):
        """Decoded JSON body of a GET; 404 raises EsError with its type.

        ``decode`` turns the bytes of a 200 into the value returned, instead
        of json.loads (a listing is parsed as it is decoded); it raises what
        json.loads raises on a body that is not JSON.
        """
        shown = path + ("?" + urlencode(params) if params else "")
        # The field list is long and the same every run: -vv names the request
        # without it (the log has 2000 bytes for all requests), -vvv shows it.
        brief = {k: v for k, v in (params or {}).items() if k != "filter_path"}
        logged = path + ("?" + urlencode(brief) if brief else "")
        if brief != (params or {}):
            log.debug("fields asked for: %s", params["filter_path"])
        for attempt in (1, 2):
            ahead = self.ahead.pop(shown, None) if attempt == 1 else None
            status, headers, body, elapsed = self._fetch(shown, what) if ahead is None else ahead.result(self, what)
            self.requests_made.append((shown, status, len(body), elapsed))
            log.info("GET %s -> HTTP %s, %d bytes, %.0f ms", logged, status, len(body), elapsed * 1000)
            # Redact, then cut: a secret cut in half would escape the redactor.
            head = 4 * (512 + getattr(self.redact, "longest", 0))  # bytes enough for that many characters
            excerpt = redacted_head(self.redact, body[:head].decode("utf-8", "replace"), 512,
                                    continues=len(body) > head)
            log.debug("response body starts: %s", clean_reason(excerpt, 160))
            wait = retry_after(status, headers)
            if attempt == 2 or wait is None or wait >= self.deadline.remaining() - 1:
                break
            log.info("HTTP %s, retrying once after %gs (Retry-After)", status, wait)
            time.sleep(wait)
        payload = self._decode(body, status, what, decode if status == 200 else None)
        if status != 200:
            error = self._status_error(status, payload, what)
            if wait is not None and attempt == 1:
                # An HTTP-date Retry-After may lie days ahead: read it like any age.
                error = EsError(f"{error} (Retry-After {format_duration(math.ceil(wait))} does not fit in -t)",
                                error.state, error.status, error.error_type)
            raise error
        return payload

    def send_ahead(self, path, params=None):
        """Send ``get(path, params)`` now, on a second connection, while
        the caller waits for another answer: the get() that asks for it
        later takes this answer (and logs it then, in the plan's order).
        One sent ahead and never asked for is counted by settle()."""
        shown = path + ("?" + urlencode(params) if params else "")
        # Only as the run's first request, when both connections open at
        # once: once one is up, a second connection's handshake (TCP, and
        # TLS on top) costs as much as it saves, or more.
        if self.requests_made or shown in self.ahead or self.deadline.remaining() <= 0:
            return
        if self.signer is not None:
            # --aws-sigv4: the first request resolves the AWS credentials
            # (a network call for web identity or IMDS); two threads must not
            # both do it, so a signed run sends nothing ahead.
            return
        try:
            if self.proxies is None:
                self.proxies = environment_proxies(self.base_url) if self.use_env_proxy else {}
        except EsError:
            return  # the first request says so, in the caller's thread
        self.ahead[shown] = Ahead(self, shown)

    def settle(self):
        """Wait for what was sent ahead and not asked for, within the
        deadline: no thread or connection outlives the read."""
        for shown, ahead in list(self.ahead.items()):
            del self.ahead[shown]
            try:
                status, _, body, elapsed = ahead.result(self, "read an answer sent ahead")
            except EsError:
                continue
            self.requests_made.append((shown, status, len(body), elapsed))
            log.info("GET %s -> HTTP %s, %d bytes, %.0f ms (sent ahead, not needed)",
                     shown.split("?")[0], status, len(body), elapsed * 1000)

    def _fetch(self, shown, what, session=None):
        session = session or self.session
        remaining = self.deadline.remaining()
        if remaining <= 0:
            raise EsError(f"timed out before {what} at {self.where}", nagiosplugin.Critical)
        started = time.monotonic()
        response = None
        if self.proxies is None:
            self.proxies = environment_proxies(self.base_url) if self.use_env_proxy else {}
        try:
            prepared = session.prepare_request(requests.Request("GET", self.base_url + shown))
            # requests decodes %2E to "." (an unreserved character), which
            # would turn a repository named ".." into a step out of the
            # --url prefix: the path goes out exactly as path_of() quoted it.
            prepared.url = prepared.url[: len(prepared.url) - len(requests.utils.requote_uri(shown))] + shown
            if self.signer is not None:
                self.signer(prepared)  # last: the signature covers the URL as sent
            response = session.send(
                prepared, stream=True, verify=self.verify, proxies=self.proxies, cert=session.cert,
                timeout=(min(CONNECT_TIMEOUT, remaining), remaining))
            body = self._read(response, what)
            return response.status_code, response.headers, body, time.monotonic() - started
        except DeadlineExceeded:
            raise EsError(f"cannot {what} at {self.where}: {timed_out(self._timeout)}",
                          nagiosplugin.Critical) from None
        except requests.exceptions.RequestException as exc:
            raise self._transport_error(exc, what) from None
        finally:
            if response is not None:
                response.close()

    @property
    def _timeout(self):
        """The -t the operator gave (test doubles may only know the budget)."""
        return getattr(self.deadline, "seconds", None) or self.deadline.network_budget

    def _read(self, response, what):
        """The body, refused as soon as it cannot be an answer.

        Every answer the plugin reads is a JSON object: a body that starts
        otherwise, or holds more containers than any real answer, is refused
        while it arrives, before it costs memory or a json.loads.
        """
        body, containers, opened, received = bytearray(), 0, False, 0
        strings = StringCutter(body)
        for chunk in response.iter_content(CHUNK):
            if not opened and chunk.strip():
                opened = True
                head = chunk.lstrip()[:1]
                if head == b"[" and response.status_code < 500:
                    raise EsError(f"{what} at {self.where}: HTTP {response.status_code} with a JSON "
                                  "array where an object is due, refused", status=response.status_code)
                if head != b"{":
                    return bytes(body + chunk)  # not JSON at all: _decode says what it is
            received += len(chunk)
            if received > MAX_BODY_BYTES:
                raise EsError(f"{what} at {self.where}: answer larger than "
                              f"{MAX_BODY_BYTES // 2**20} MiB, refused")
            # Counted as they arrive, cut strings too: "{},{},..." has no quote
            # either, and must still be refused as what it is.
            containers += chunk.count(b"{") + chunk.count(b"[")
            strings.add(chunk)  # into body: one bytearray, no second copy of a large body
            if containers > MAX_CONTAINERS:
                raise EsError(f"{what} at {self.where}: answer with more than {MAX_CONTAINERS:,} "
                              "JSON objects, refused", status=response.status_code)
        return body

    def _decode(self, body, status, what, decode=None):
        try:
            # An error body is read leniently (a key twice in it changes no
            # verdict: its HTTP status decides); a 200 strictly (unique_keys).
            decode = decode or (loads if status == 200 else functools.partial(loads, strict=False))
            try:
                return decode(body)
            except (UnicodeDecodeError, json.JSONDecodeError, ResponseShapeError):
                raise
            except ValueError:
                # An int of over 4,300 digits (Python's limit).  Only then
                # every int goes through decode_int (snapshots.loads says why).
                return decode(body, parse_int=decode_int)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            pass
        if status >= 500:
            raise EsError(f"HTTP {status} from {self.where} for {what}", nagiosplugin.Critical, status)
        if status in (401, 403):
            return None  # OpenSearch security answers 401 with plain text
        head = body.lstrip()[:1]
        if head == b"<":
            kind = "HTML instead of JSON (a proxy or a wrong --url?)"
        elif not body.strip():
            kind = "an empty body instead of JSON"
        else:
            kind = "a body that is not valid JSON (truncated?)"
        raise EsError(f"{what} at {self.where}: HTTP {status} with {kind}", status=status)

    def _status_error(self, status, payload, what):
        error = payload.get("error") if isinstance(payload, dict) else None
        error_type = error.get("type") if isinstance(error, dict) else ""
        error_type = error_type if isinstance(error_type, str) else ""
        reason = error.get("reason") if isinstance(error, dict) else error
        # ES 5.6.16 wraps a snapshot whose metadata is gone: HTTP 500
        # snapshot_exception, the snapshot_missing_exception in root_cause.
        causes = error.get("root_cause") if isinstance(error, dict) else None
        missing = next((c for c in causes if isinstance(c, dict) and c.get("type") == "snapshot_missing_exception"
                        and isinstance(c.get("reason"), str)), None) if isinstance(causes, list) else None
        if missing is not None and error_type != "snapshot_missing_exception":
            error_type, reason = "snapshot_missing_exception", missing["reason"]
        # A null reason (ES 503 master_not_discovered_exception) says its type.
        reason = reason if isinstance(reason, str) and reason.strip() else error_type
        full = redacted_head(self.redact, reason, 4096)
        reason = clean_reason(full, 160)
        if status == 401:
            return self._unauthenticated(reason)
        if status == 403 and self.signer is not None and not isinstance(error, (dict, str)):
            # AWS itself refused (IAM, the signature): not the engine's
            # security, whose 403 (fine-grained access control) has "error".
            return self.signer.refused(self.where, payload)
        if status == 403:
            # The action the engine itself names as refused (Elasticsearch:
            # "action [cluster:monitor/main] is unauthorized ...", OpenSearch:
            # "no permissions for [cluster:admin/snapshot/get] ..."): no guess
            # at a privilege, which named one the user had (issue 22).
            action = _REFUSED_ACTION.search(full)
            said = ([f"the user may not run the action {action.group(1)}"] if action else []) + \
                ([reason] if reason else [])
            return EsError(f"authorisation failed at {self.where} (HTTP 403) to {what}"
                           + (": " + "; ".join(said) if said else ""), status=status, error_type=error_type)
        state = nagiosplugin.Critical if status >= 500 or status in (429,) else nagiosplugin.Unknown
        detail = f": {reason}" if reason else ""
        return EsError(f"HTTP {status} from {self.where} for {what}{detail}",
                       state, status=status, error_type=error_type, reason=full)

    def _unauthenticated(self, reason):
        """HTTP 401: no credentials given, or which ones were refused.

        The engine's own reason follows where it gives one (Elasticsearch;
        OpenSearch answers "Unauthorized" as plain text): a wrong password
        and a deleted user read alike there, a removed service token has its
        own (seen on the secured engines, issue 22)."""
        scheme, _, value = (self.session.headers.get("Authorization") or "").partition(" ")
        if not scheme:
            return EsError(f"authentication required at {self.where} (HTTP 401): no credentials were given "
                           "(--user with $ES_PASSWORD or --password-file, an API key or a bearer token)", status=401)
        if scheme == "Basic":
            try:
                user = base64.b64decode(value).decode("utf-8", "replace").partition(":")[0]
            except ValueError:
                user = ""
            who = f"as user '{clean_reason(user, 60)}'"
        else:
            who = "with the API key" if scheme == "ApiKey" else "with the bearer token"
        # Whichever of the engine's words name a user are already in the reason.
        said = reason if reason and reason != "security_exception" else "check the credentials"
        return EsError(self.redact(f"authentication failed at {self.where} (HTTP 401) {who}: {said}"), status=401)

    def _transport_error(self, exc, what):
        cause = describe_cause(exc, self._timeout)
        return EsError(self.redact(f"cannot {what} at {self.where}: {cause}"), nagiosplugin.Critical)


# The longest start of a JSON string's text made of whole characters and
# whole escapes (a cut must not leave "\u00" or a lone backslash behind).
_WHOLE_ESCAPES = re.compile(rb'(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_HIGH_SURROGATE = re.compile(rb'\\u[dD][89abAB][0-9a-fA-F]{2}\Z')
# A quote after anything but a backslash (once escaped backslashes are out).
_PLAIN_QUOTE = re.compile(rb'[^\\]"')


class StringCutter:
    """Appends a body's chunks to ``body``, cutting every JSON string
    longer than LONG_STRING bytes to its first KEEP bytes and "...".

    Only a string runs a whole chunk without a quote, so that is what is
    looked for, with bytes.rfind (a normal answer costs next to nothing);
    escaped quotes do not count.  Inside such a string every further chunk
    is dropped until the one with its closing quote, which the body
    resumes from.  Any answer the check reads is UTF-8 (JSON from
    Elasticsearch); a cut never splits a character or an escape."""

    def __init__(self, body):
        self.body = body
        self.since = 0          # bytes of body after its last quote
        self.dropping = False   # inside a long string, its rest dropped
        self.trail = 0          # backslashes at the end of what was dropped

    def add(self, chunk):
        """Appends ``chunk`` (or what of it is kept); returns what was appended."""
        if len(chunk) > CHUNK:  # urllib3 1.x may hand over a whole inflated body at once
            return b"".join(self.add(chunk[at:at + CHUNK]) for at in range(0, len(chunk), CHUNK))
        if self.dropping:
            closing = _closing_quote(chunk, self.trail % 2)
            if closing < 0:
                self.trail = _backslashes(chunk, self.trail)
                return b""
            self.dropping, self.trail = False, 0
            chunk = chunk[closing:]  # from the closing quote on
        quote = _last_quote(chunk, self.trail % 2)
        if quote < 0 and self.since + len(chunk) > LONG_STRING:
            self._cut(chunk)
            return b""
        self.body += chunk
        self.since = len(chunk) - 1 - quote if quote >= 0 else self.since + len(chunk)
        self.trail = _backslashes(chunk, self.trail)
        return chunk

    def _cut(self, chunk):
        """Keeps the first KEEP bytes of the string read so far, drops
        ``chunk`` and every chunk after it up to the closing quote."""
        start = len(self.body) - self.since  # the string's text read so far
        read = bytes(self.body[start:])
        text = read[:KEEP]
        text = text[:_WHOLE_ESCAPES.match(text).end()]
        if _HIGH_SURROGATE.search(text):  # half of an escaped pair (\ud83d of \ud83d\ude00)
            text = text[:-6]
        text = text.decode("utf-8", "ignore").encode("utf-8")  # no half of a character either
        del self.body[start:]
        self.body += text + b"..."
        self.since = len(text) + 3
        # The parity of the backslashes before the next byte: a closing
        # quote right after an odd run is an escaped one.
        self.trail = _backslashes(chunk, _backslashes(read, 0))
        self.dropping = True


def _closing_quote(chunk, odd):
    """Index of the first quote of ``chunk`` that is not escaped (``odd``:
    the chunk follows an odd run of backslashes), -1 if none."""
    if b'"' not in chunk:
        return -1
    # Each escaped backslash (a pair, counted from the start of its run)
    # made two other bytes: an escaped quote is then one after a backslash.
    text = ((b"\\" if odd else b"") + chunk).replace(b"\\\\", b"__")
    if text.startswith(b'"'):
        return 0
    match = _PLAIN_QUOTE.search(text)
    return -1 if match is None else match.end() - 1 - odd


def _backslashes(data, before):
    """Backslashes at the end of ``data``, following ``before`` more of them."""
    run = len(data) - len(data.rstrip(b"\\"))
    return before + run if run == len(data) else run


def _last_quote(chunk, odd):
    """Index of the last quote of ``chunk`` that is not escaped, -1 if none
    (``odd``: the chunk follows an odd run of backslashes).

    Almost always the last quote there is; only when that one follows a
    backslash are the escapes worked out (as _closing_quote does)."""
    at = chunk.rfind(b'"')
    if at < 0 or (at > 0 and chunk[at - 1] != 0x5C) or (at == 0 and not odd):
        return at
    text = ((b"\\" if odd else b"") + chunk).replace(b"\\\\", b"__")
    at = 0 if text.startswith(b'"') else -1
    for match in _PLAIN_QUOTE.finditer(text):
        at = match.end() - 1
    return at - odd if at >= 0 else -1


# An action name inside brackets, as both engines' 403 reasons give it.
_REFUSED_ACTION = re.compile(r"\[((?:cluster|indices|internal):[^\]\s,]+)\]")


class Ahead:
    """One request sent ahead, on its own session (a second connection:
    requests' sessions are not shared between threads), by a daemon thread.

    Only the main thread receives the deadline's signal: it waits here, so
    -t interrupts the wait as it interrupts any request; the thread's own
    socket timeouts end it by -t at the latest, and the process ends with
    the run either way.
    """

    def __init__(self, client, shown):
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.max_redirects = client.session.max_redirects
        self.session.verify = client.session.verify
        self.session.cert = client.session.cert
        self.session.headers.update(client.session.headers)
        self.outcome = None
        self.thread = threading.Thread(target=self._run, args=(client, shown), daemon=True,
                                       name="check_es_snapshot send-ahead")
        self.thread.start()

    def _run(self, client, shown):
        try:
            self.outcome = (True, client._fetch(shown, "request sent ahead", self.session))
        except BaseException as exc:  # handed to the main thread, raised there
            self.outcome = (False, exc)

    def result(self, client, what):
        """(status, headers, body, seconds), or what sending it raised."""
        try:
            while self.thread.is_alive():
                self.thread.join(0.05)  # short waits: the deadline's signal is handled between them
        except DeadlineExceeded:
            raise EsError(f"cannot {what} at {client.where}: {timed_out(client._timeout)}",
                          nagiosplugin.Critical) from None
        finally:
            if not self.thread.is_alive():
                self.session.close()
        ok, value = self.outcome
        if not ok:
            if isinstance(value, EsError):
                # Worded for the request that asked for it, not the sending.
                raise EsError(str(value).replace("request sent ahead", what), value.state,
                              value.status, value.error_type, value.reason) from None
            raise value
        return value


PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


def environment_proxies(url):
    """Proxies from http(s)_proxy/all_proxy for ``url``, honouring no_proxy.

    A variable that is no URL is an operator's mistake, named as such
    (requests would only say that "the URL" is not valid).
    """
    if requests.utils.should_bypass_proxies(url, no_proxy=None):
        return {}
    proxies = {}
    for scheme, value in getproxies().items():
        if scheme not in (urlsplit(url).scheme, "all"):
            continue
        name = next((n for n in (f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
                     if os.environ.get(n) == value), f"{scheme}_proxy")
        try:
            parts = urlsplit(value if "://" in value else "http://" + value)
            valid = parts.scheme in PROXY_SCHEMES and parts.hostname and (parts.port or True)
        except ValueError:
            valid = False
        if not valid or re.search(r"[\s\x00-\x1f]", value):
            raise EsError(f"the proxy variable {name} is not a valid proxy URL "
                          "(fix it, or --no-proxy ignores it)")
        proxies[scheme] = value
    return proxies


def retry_after(status, headers):
    """Seconds a 429/503 asks us to wait (Retry-After), None if it does not say."""
    if status not in (429, 503):
        return None
    value = headers.get("Retry-After", "").strip()
    if re.fullmatch(r"[0-9]{1,9}", value):  # str.isdigit() also takes "²" and "١"
        return float(value)
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, OverflowError):
        return None


def timed_out(seconds):
    return f"no complete answer within {seconds:g}s (-t, timed out)"


def _chain(exc):
    """The exception and everything it wraps, outermost first."""
    seen = []
    todo = [exc]
    while todo and len(seen) < 20:
        item = todo.pop(0)
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.extend([getattr(item, "reason", None), item.__cause__, item.__context__])
        todo.extend(a for a in getattr(item, "args", ()) if isinstance(a, BaseException))
    return seen


def describe_cause(exc, budget):
    """A few words on why a request failed, from the wrapped low-level error."""
    if isinstance(exc, requests.exceptions.ProxyError):
        inner = describe_cause(requests.exceptions.ConnectionError(*exc.args), budget)
        return f"the proxy from the environment failed ({inner}; --no-proxy ignores it)"
    chain = _chain(exc)
    for item in chain:
        if isinstance(item, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed ({str(item.verify_message).rstrip('.')})"
    for item in chain:
        if isinstance(item, ssl.SSLError):
            reason = getattr(item, "reason", None) or "SSL error"
            return f"TLS handshake failed ({reason.replace('_', ' ').lower()})"
        if isinstance(item, socket.gaierror):
            return "host name could not be resolved"
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, ConnectionResetError):
            return "connection reset by the server"
    if isinstance(exc, requests.exceptions.Timeout):
        return timed_out(budget)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection broke off in the middle of the answer"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return "the URL is not valid"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection failed (" + type(chain[-1]).__name__ + ")"
    return type(exc).__name__
