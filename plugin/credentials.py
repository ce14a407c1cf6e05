"""Credentials from the environment, files or the URL, and keeping them secret.

Command-line arguments are visible to every local user in ``ps``; the
environment (Icinga's ``env``) and files are not.  Every secret loaded here
is registered with ``Redactor`` so that no message, log line or traceback
can carry it out, whatever the verbosity.
"""
import base64
import os
import stat
from collections import namedtuple
from urllib.parse import unquote, urlsplit, urlunsplit

from . import NAME
from .wording import safe_name

PASSWORD_ENV = "ES_PASSWORD"
API_KEY_ENV = "ES_API_KEY"
BEARER_ENV = "ES_BEARER_TOKEN"


class CredentialError(ValueError):
    """A credential source the operator has to fix (usage error)."""


class Credentials(namedtuple("Credentials", "user password api_key bearer notes given",
                             defaults=("", "", "", "", (), ()))):
    """Who the plugin is; ``notes`` are warnings for the long output,
    ``given`` the secrets in the form the operator gave them (``id:key``)."""
    __slots__ = ()

    @property
    def authorization(self):
        """The Authorization header value, or None for anonymous access."""
        if self.api_key:
            return "ApiKey " + self.api_key
        if self.bearer:
            return "Bearer " + self.bearer
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return "Basic " + token
        return None

    @property
    def secrets(self):
        """Every form in which a secret could be echoed back at us."""
        header = self.authorization or ""
        pair = f"{self.user}:{self.password}" if self.user and self.password else ""
        return [s for s in (self.password, self.api_key, self.bearer, pair,
                            header.partition(" ")[2], *self.given) if s]


# A secret is a line; a larger "secret file" is a mistake (or /dev/zero).
MAX_SECRET_FILE = 64 * 1024


def read_secret_file(path, what):
    """First line of a secret file; a note when other users may read it.

    Only a regular file of at most 64 KB: a FIFO, /dev/stdin or /dev/zero
    would hang the run or fill its memory.  Opened without blocking, so a
    FIFO without a writer is refused instead of waited for.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise CredentialError(f"cannot read {what} file {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CredentialError(f"{what} file {path} is not a regular file")
        if info.st_size > MAX_SECRET_FILE:
            raise CredentialError(f"{what} file {path} is larger than {MAX_SECRET_FILE // 1024} KB")
        data = os.read(fd, MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise CredentialError(f"cannot read {what} file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    mode = info.st_mode
    try:
        value = data.decode("utf-8").splitlines()[0] if data.strip() else ""
    except UnicodeDecodeError:
        raise CredentialError(f"{what} file {path} is not UTF-8 text") from None
    if not value:
        raise CredentialError(f"{what} file {path} is empty")
    notes = ()
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        notes = (f"{what} file {path} is readable by other users (chmod 600 it)",)
    return value, notes


def _api_key(value):
    """The base64 ``encoded`` form Elasticsearch returns, or ``id:key``."""
    if ":" in value:
        return base64.b64encode(value.encode()).decode()
    return value


def _decoded_api_key(encoded):
    """``id:key`` from the encoded form, or "" if it is not one."""
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    return decoded if ":" in decoded and decoded.isprintable() else ""


def split_url_userinfo(url):
    """``https://u:p@host`` -> (``https://host``, user, password)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, "", ""
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), unquote(user), unquote(password)


def load_credentials(options, environ, url_user="", url_password=""):
    """Credentials from options, files and environment, in that precedence."""
    notes = []

    def from_file(path, what):
        value, more = read_secret_file(path, what)
        notes.extend(more)
        return value

    api_key = bearer = password = ""
    given = []
    if options.api_key_file:
        given.append(from_file(options.api_key_file, "API key"))
    elif environ.get(API_KEY_ENV):
        given.append(environ[API_KEY_ENV].strip())
    if given:
        api_key = _api_key(given[0])
        # The key as id:key and without its id, whichever form was given:
        # a server or proxy may echo either (the header carries the encoded one).
        decoded = _decoded_api_key(api_key)
        given += [decoded, decoded.partition(":")[2]]
    if options.bearer_token_file:
        bearer = from_file(options.bearer_token_file, "bearer token")
    elif environ.get(BEARER_ENV):
        bearer = environ[BEARER_ENV].strip()
    user = options.user or url_user
    if options.password_file:
        password = from_file(options.password_file, "password")
    elif options.password is not None:
        password = options.password
    elif environ.get(PASSWORD_ENV):
        password = environ[PASSWORD_ENV]
    else:
        password = url_password
    if (api_key or bearer) and not options.password_file and options.password is None \
            and not user and password == environ.get(PASSWORD_ENV):
        # Icinga may set ES_PASSWORD for every check: not a contradiction.
        if password:
            notes.append(f"${PASSWORD_ENV} is set but ignored: an API key or bearer token is used")
        password = ""
    if sum(bool(x) for x in (api_key, bearer, user)) > 1:
        raise CredentialError("give only one of --user, an API key or a bearer token")
    if password and not user:
        raise CredentialError("a password was given but no --user")
    if user and not password:
        raise CredentialError(f"--user {user} needs a password: set ${PASSWORD_ENV} or give "
                              "--password-file FILE")
    for name, value in (("the user name", user), ("the password", password),
                        ("the API key", given[0] if given else ""), ("the bearer token", bearer)):
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            # A header cannot carry it; requests would fail deep inside.
            raise CredentialError(f"{name} contains a control character")
    return Credentials(user=user, password=password, api_key=api_key,
                       bearer=bearer, notes=tuple(notes), given=tuple(g for g in given if g))


def secrets_in_argv(argv, environ):
    """Secrets known before the options are understood: for usage errors.

    The value after (or attached to) ``--password``, the password inside
    any URL, and the secrets in the environment, in every form they take.
    """
    found = []
    args = list(argv)
    for index, arg in enumerate(args):
        if arg == "--password" and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith("--password="):
            found.append(arg.partition("=")[2])
        if "@" in arg:
            userinfo = arg.partition("://")[2].rpartition("@")[0]
            user, _, password = userinfo.partition(":")
            found += [password, unquote(password), user and f"{user}:{password}"]
    for name in (PASSWORD_ENV, API_KEY_ENV, BEARER_ENV):
        value = environ.get(name, "")
        found += [value, value.strip(), value.strip().partition(":")[2]]
    return [s for s in found if s]


# Words of the plugin's own requests and sentences.  A weak secret found
# inside one (a password "snapshot") is left there: replacing it would mangle
# the path and, by the gap, show the secret to whoever knows the path.
OWN_WORDS = (NAME, "_snapshot", "snapshots", "snapshot", "_status", "_slm",
             "_all", "_current", "_health_report", "repository", "repositories", "policy",
             "ignore_unavailable", "index_details", "from_sort_value", "start_time")


def _forms(secret):
    """The secret as given and as it may come back: whitespace collapsed,
    JSON-escaped, percent-encoded (either case of hex digits), HTML-escaped
    (a proxy's error page), base64 and URL-safe base64 (a header echoed, a
    token decoded and encoded again), cleaned for a status line."""
    import html
    import json
    import re
    from urllib.parse import quote, quote_plus

    forms = {secret, " ".join(secret.split()), json.dumps(secret)[1:-1],
             json.dumps(secret, ensure_ascii=False)[1:-1],
             safe_name(secret, readable=True), safe_name(secret, readable=False)}
    for encoded in (quote(secret, safe=""), quote(secret, safe=",*"), quote_plus(secret, safe="")):
        forms |= {encoded, re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded)}
    forms |= {html.escape(secret), html.escape(secret, quote=False),
              html.escape(secret).replace("&#x27;", "&#39;")}
    raw = secret.encode("utf-8", "surrogatepass")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {f for f in forms if f}


class Redactor:
    """Replaces every known secret in a text by ``***``.

    One pass of one regular expression, longest alternative first: an API
    key given as ``id:key`` is registered both whole and as its key, and
    replacing the key first would leave ``id:***`` and show the id.
    """

    def __init__(self, secrets=()):
        self._given = set()
        self._compile(secrets)

    def add(self, *secrets):
        """Secrets learnt during the run (--aws-sigv4: the keys botocore
        found, each signature made), redacted from then on everywhere this
        Redactor is used."""
        new = {s for s in secrets if s} - self._given
        if new:
            self._compile(new)

    def _compile(self, secrets):
        import re
        self._given |= {s for s in secrets if s}
        forms = set()
        for secret in self._given:
            forms |= _forms(secret)
        self.secrets = sorted(forms, key=len, reverse=True)
        self.longest = len(self.secrets[0]) if self.secrets else 0
        own = [w for w in OWN_WORDS if any(f in w for f in forms)]
        alternatives = sorted([(w, True) for w in own] + [(f, False) for f in forms],
                              key=lambda item: (-len(item[0]), not item[1]))
        self._keep = {w for w, kept in alternatives if kept}
        self._pattern = re.compile("|".join(re.escape(a) for a, _ in alternatives)) if forms else None

    def __call__(self, text):
        text = str(text)
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: m.group(0) if m.group(0) in self._keep else "***", text)


def redacted_head(redact, text, limit, continues=False):
    """The first ``limit`` characters of ``text``, redacted first and cut
    after: a secret that straddles the cut is seen whole by the redactor,
    and what may be the start of one at the end of the window is dropped.
    ``continues``: ``text`` is itself the head of something longer."""
    longest = getattr(redact, "longest", 0)
    window = text[: limit + longest]
    shown = redact(window)
    if continues or len(text) > len(window):
        shown = shown[: max(0, len(shown) - longest)]
    return shown[:limit]
