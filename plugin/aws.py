"""AWS Signature Version 4 for Amazon OpenSearch Service (--aws-sigv4).

botocore signs (its SigV4Auth) and finds the credentials (its session's
standard chain: environment, shared config and credentials files with their
profiles, web identity, container credentials, EC2 instance role over
IMDSv2): nothing here computes a signature or reads a credential itself.
botocore is optional and heavy (about 0.2 s to import): it is imported at the
first signed request only, so a plain check never loads it.  This module's
own top level needs nothing beyond the standard library.
"""
import hashlib
import re

# search-NAME-ID.REGION.es.amazonaws.com and vpc-..., also China's ....amazonaws.com.cn.
_ENDPOINT_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-[0-9]+)\.es\.amazonaws\.com(?:\.cn)?\.?$")
REGION_FORMAT = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]+")
SERVICE = "es"
INSTALL_HINT = "pip install 'check_es_snapshot[aws]' or apt install python3-botocore"
# Where botocore looks, in its order: said when it finds nothing.
CHAIN = ("AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws/credentials or config, "
         "web identity, container or EC2 instance role")


def region_from_host(host):
    """The region an OpenSearch Service endpoint names, or None (a custom endpoint)."""
    match = _ENDPOINT_REGION.search((host or "").lower())
    return match.group(1) if match else None


def _aws_message(payload):
    """AWS's own words from a refusal: {"message": ...} or {"Message": ...}."""
    if not isinstance(payload, dict):
        return ""
    message = payload.get("message", payload.get("Message"))
    return message if isinstance(message, str) else ""


# AWS's wording (lower case) -> what the operator should do about it.
_REFUSALS = (
    ("security token included in the request is expired", "the session token has expired, renew the credentials"),
    ("signature expired", "the signature is too old: check this host's clock (NTP)"),
    ("signature we calculated does not match", "the signature does not match: check the secret key and the region"),
    ("security token included in the request is invalid", "AWS does not know this access key or session token"),
    ("not authorized to perform", "IAM denies it: allow es:ESHttpGet on this domain to this identity"),
    ("missing authentication token", "the request reached AWS unsigned"),
)


class Signer:
    """Signs each request the client sends, with credentials botocore finds.

    The credentials are looked up once, at the first request (inside the
    run's deadline: web identity and IMDS are network calls), then asked for
    again per request, so that botocore renews expiring ones.  Every secret
    botocore hands over, and every signature made, is registered with the
    run's Redactor before anything could print it.
    """

    def __init__(self, region, redact):
        self.region = region  # None: botocore's configuration decides (a profile's region)
        self.redact = redact
        self._credentials = None
        self._auth = None

    def _load(self):
        from .errors import EsError
        try:
            import botocore.session
            from botocore.auth import SigV4Auth
            from botocore.awsrequest import AWSRequest
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise EsError(f"--aws-sigv4 needs botocore, which is not installed: {INSTALL_HINT}") from None
        self._errors = (BotoCoreError, ClientError)
        self._request_class, self._auth_class = AWSRequest, SigV4Auth
        try:
            session = botocore.session.Session()
            self.region = self.region or session.get_config_variable("region")
            credentials = session.get_credentials()
        except self._errors as exc:
            raise EsError(f"cannot get AWS credentials: {self._said(exc)}") from None
        if not self.region:
            raise EsError("--aws-sigv4 needs a region: give --aws-region, set AWS_REGION, or use "
                          "the domain's endpoint (...REGION.es.amazonaws.com)")
        if credentials is None:
            raise EsError(f"no AWS credentials found (looked for {CHAIN})")
        self._credentials = credentials

    def _said(self, exc):
        return self.redact(" ".join(str(exc).split()))[:200]

    def frozen(self):
        """The credentials for this request, renewed by botocore when due."""
        from .errors import EsError
        if self._credentials is None:
            self._load()
        method = getattr(self._credentials, "method", "") or "botocore"
        try:
            frozen = self._credentials.get_frozen_credentials()
        except RuntimeError:
            # botocore renewed them and they are still past their expiry.
            raise EsError(f"the AWS credentials ({method}) have expired: renew them") from None
        except self._errors as exc:
            raise EsError(f"cannot renew the AWS credentials ({method}): {self._said(exc)}") from None
        self.redact.add(frozen.secret_key, frozen.token)
        return frozen

    def __call__(self, prepared):
        """Sign a requests.PreparedRequest in place, as it will be sent."""
        frozen = self.frozen()
        body = prepared.body or b""
        body = body.encode("utf-8") if isinstance(body, str) else body
        # Only what SigV4 needs is signed (host, date, token, payload hash):
        # a header a proxy may rewrite (Connection, Accept-Encoding) would
        # break a signature that covered it.
        request = self._request_class(method=prepared.method, url=prepared.url, data=body,
                                      headers={"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
        self._auth_class(frozen, SERVICE, self.region).add_auth(request)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"):
            prepared.headers.pop(name, None)
            if name in request.headers:
                prepared.headers[name] = request.headers[name]
        self.redact.add(request.headers["Authorization"].rpartition("Signature=")[2])
        return prepared

    def follow(self, session):
        """Redirects: requests drops the Authorization header when one leaves
        the host, but would carry the X-Amz-* headers (the session token)
        along.  Every redirect loses them; one on the same host is signed
        anew (the old signature covered the old path)."""
        rebuild = session.rebuild_auth

        def rebuild_auth(prepared, response):
            rebuild(prepared, response)
            for name in [n for n in prepared.headers if n.lower().startswith("x-amz-")]:
                del prepared.headers[name]
            prepared.headers.pop("Authorization", None)
            if not session.should_strip_auth(response.request.url, prepared.url):
                self(prepared)

        session.rebuild_auth = rebuild_auth

    def refused(self, where, payload):
        """The EsError for a 403 that AWS (IAM or the signature check), not
        the engine, gave: AWS's own words and what to do about them."""
        from .errors import EsError
        from .wording import REASON_ON_STATUS_LINE, clean_reason
        said = _aws_message(payload)
        lower = said.lower()
        hint = next((h for words, h in _REFUSALS if words in lower), "")
        # The hint first: AWS's sentence may be long, and is cut.
        text = "; ".join(p for p in (hint, clean_reason(self.redact(said), REASON_ON_STATUS_LINE) if said else "")
                         if p)
        return EsError(f"AWS refused the signed request at {where} (HTTP 403)" + (f": {text}" if text else ""),
                       status=403, reason=self.redact(said))
