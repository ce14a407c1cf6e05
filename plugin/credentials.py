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
        return [s for s in (self.password, self.api_key, self.bearer,
                            header.partition(" ")[2], *self.given) if s]


def read_secret_file(path, what):
    """First line of a secret file; a note when other users may read it."""
    try:
        with open(path, encoding="utf-8") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            value = handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise CredentialError(f"cannot read {what} file {path}: {exc.strerror}") from None
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
        given.append(given[0].partition(":")[2])  # the key without its id
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
    if sum(bool(x) for x in (api_key, bearer, user)) > 1:
        raise CredentialError("give only one of --user, an API key or a bearer token")
    if password and not user:
        raise CredentialError("a password was given but no --user")
    return Credentials(user=user, password=password, api_key=api_key,
                       bearer=bearer, notes=tuple(notes), given=tuple(g for g in given if g))


class Redactor:
    """Replaces every known secret in a text by ``***``."""

    def __init__(self, secrets=()):
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def __call__(self, text):
        text = str(text)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text
