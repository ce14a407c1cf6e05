"""AWS on 127.0.0.1: a domain that checks SigV4 signatures, IMDSv2 and STS.

``verify`` recomputes a Signature Version 4 signature from AWS's published
rules alone (canonical request, string to sign, derived signing key) with
hashlib and hmac: no botocore, so a mistake in how the plugin drives botocore
cannot hide behind the same mistake here.  tests/test_aws.py holds it to
AWS's own test vectors first.  The rules, as AWS's SigV4 documentation and
its test suite give them:

  CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQuery \\n
                     CanonicalHeaders \\n \\n SignedHeaders \\n hex(sha256(payload))
  CanonicalURI     = the path, dot segments resolved, each segment
                     URI-encoded (so a %XX sent is encoded again: every
                     service but S3)
  CanonicalQuery   = name=value pairs decoded, then URI-encoded (A-Z a-z 0-9
                     - _ . ~ kept), sorted by name then value, joined by &
  CanonicalHeaders = lower-case name:value (spaces trimmed and collapsed),
                     sorted, one per line, for each header named in SignedHeaders
  StringToSign     = AWS4-HMAC-SHA256 \\n X-Amz-Date \\n date/region/service/aws4_request
                     \\n hex(sha256(CanonicalRequest))
  SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")
  Signature        = hex(HMAC(SigningKey, StringToSign))

A request whose X-Amz-Date is more than 5 minutes from the stand-in's clock
is refused as AWS refuses it.  Refusals are HTTP 403 with AWS's JSON body.
"""
import hashlib
import hmac
import json
import re
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

from tests import fake_es

# AWS's wording of each refusal (the same sentences AWS's endpoints send).
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation "
            "for details.")
INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"
MISSING = "Missing Authentication Token"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
SKEW = timedelta(minutes=5)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _hmac(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret, date, region, service):
    key = _hmac(("AWS4" + secret).encode("utf-8"), date)
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return key


def _encode(text):
    return quote(text, safe="-_.~")


def canonical_uri(path):
    segments = []
    for segment in path.split("/")[1:]:
        if segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "/" + "/".join(_encode(s) for s in segments)


def canonical_query(query):
    pairs = []
    for item in query.split("&") if query else ():
        name, _, value = item.partition("=")
        pairs.append((_encode(unquote(name)), _encode(unquote(value))))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def canonical_request(method, target, headers, signed, body):
    path, _, query = target.partition("?")
    lines = [method, canonical_uri(path), canonical_query(query)]
    lower = {}
    for name, value in headers:
        lower.setdefault(name.lower(), []).append(" ".join(value.split()))
    lines += [f"{name}:{','.join(lower.get(name, []))}" for name in signed]
    return "\n".join(lines + ["", ";".join(signed), hashlib.sha256(body).hexdigest()])


def signature(secret, amz_date, scope, creq):
    date, region, service, _ = scope.split("/")
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    return hmac.new(signing_key(secret, date, region, service), to_sign.encode(), hashlib.sha256).hexdigest()


_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/,\s]+)/([0-9]{8}/[^/,\s]+/[^/,\s]+/aws4_request),\s*"
                   r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")


class Keys:
    """Who the stand-in knows: access key -> (secret, session token or None)."""

    def __init__(self):
        self.known = {}
        self.expired_tokens = set()

    def add(self, access_key, secret, token=None):
        self.known[access_key] = (secret, token)


def verify(method, target, headers, body, keys, *, region, service, now):
    """None if the request is signed as AWS requires, else AWS's refusal text.

    ``headers`` is a list of (name, value) as received, ``now`` a datetime.
    """
    found = {name.lower(): value for name, value in headers}
    header = found.get("authorization")
    if not header:
        return MISSING
    match = _AUTH.match(header)
    if match is None:
        return "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."
    access_key, scope, signed_text, given = match.groups()
    signed = signed_text.split(";")
    if signed != sorted(signed) or "host" not in signed:
        return MISMATCH
    amz_date = found.get("x-amz-date", "")
    try:
        when = datetime.strptime(amz_date, DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    if when < now - SKEW:
        return (f"Signature expired: {amz_date} is now earlier than {(now - SKEW).strftime(DATE_FORMAT)} "
                f"({now.strftime(DATE_FORMAT)} - 5 min.)")
    if when > now + SKEW:
        return (f"Signature not yet current: {amz_date} is still later than "
                f"{(now + SKEW).strftime(DATE_FORMAT)} ({now.strftime(DATE_FORMAT)} + 5 min.)")
    date, scope_region, scope_service, _ = scope.split("/")
    if date != amz_date[:8] or scope_region != region or scope_service != service:
        return f"Credential should be scoped to a valid region and service ({region}, {service})."
    if access_key not in keys.known:
        return INVALID_TOKEN
    secret, token = keys.known[access_key]
    if token is not None:
        if found.get("x-amz-security-token") != token:
            return INVALID_TOKEN
        if token in keys.expired_tokens:
            return EXPIRED_TOKEN
    if "x-amz-content-sha256" in found and found["x-amz-content-sha256"] != hashlib.sha256(body).hexdigest():
        return "The provided 'x-amz-content-sha256' header does not match what was computed."
    expected = signature(secret, amz_date, scope, canonical_request(method, target, headers, signed, body))
    if not hmac.compare_digest(expected, given):
        return MISMATCH
    return None


class SigV4Handler(fake_es.Handler):
    """fake_es's cluster behind AWS's front door: each request's signature
    is checked first, as OpenSearch Service does before the engine sees it."""

    def do_GET(self):
        domain = self.server.domain
        target = self.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = list(self.headers.items())
        refusal = verify(self.command, target, headers, body, domain.keys, region=domain.region,
                         service="es", now=domain.now())
        if refusal is None and domain.deny:
            refusal = f"User: {domain.deny} is not authorized to perform: es:ESHttpGet"
        with domain.lock:
            domain.seen.append({"path": target, "refusal": refusal, "headers": dict(self.headers.items()),
                                "body": body})
        if refusal is not None:
            # Key case as AWS sends it: "Message" for IAM's denial, "message" otherwise.
            key = "Message" if refusal.startswith("User: ") else "message"
            payload = json.dumps({key: refusal}).encode()
            self._record(403, len(payload))
            return self._send(403, payload, extra={"x-amzn-ErrorType": "AccessDeniedException"})
        moved = domain.redirects.get(target.partition("?")[0])
        if moved is not None:
            self._record(307, 0)
            self.send_response(307)
            self.send_header("Location", moved + ("?" + target.partition("?")[2] if "?" in target else ""))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return super().do_GET()


class Domain:
    """An OpenSearch Service domain on 127.0.0.1: fake_es's ``cluster``
    behind SigV4.  ``skew`` moves the domain's clock; ``deny`` an IAM
    principal whose every request IAM denies; ``redirects`` path -> URL."""

    def __init__(self, cluster, region="eu-west-1"):
        self.region = region
        self.keys = Keys()
        self.skew = timedelta(0)
        self.deny = None
        self.redirects = {}
        self.seen = []
        self.lock = threading.Lock()
        self.server = fake_es.Server(cluster)
        self.server.httpd.RequestHandlerClass = SigV4Handler
        self.server.httpd.domain = self

    def now(self):
        return datetime.now(timezone.utc) + self.skew

    @property
    def url(self):
        return self.server.url

    def __enter__(self):
        self.server.__enter__()
        return self

    def __exit__(self, *exc):
        self.server.__exit__(*exc)


class _Service(fake_es.Served):
    """A small HTTP service on 127.0.0.1 that records what it was asked."""

    def __init__(self, handler):
        self._serve(ThreadingHTTPServer(("127.0.0.1", 0), handler))
        self.httpd.service = self
        self.requests = []

    @property
    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class _ImdsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        imds = self.httpd_service()
        imds.requests.append(("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self._reply(400)
        return self._reply(200, imds.token.encode())

    def do_GET(self):
        imds = self.httpd_service()
        imds.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
        if self.headers.get("X-aws-ec2-metadata-token") != imds.token:
            return self._reply(401)  # IMDSv2 only: no answer without the session token
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            return self._reply(200, imds.role.encode())
        if self.path == base + imds.role:
            now = datetime.now(timezone.utc)
            body = {"Code": "Success", "LastUpdated": _iso(now), "Type": "AWS-HMAC",
                    "AccessKeyId": imds.access_key, "SecretAccessKey": imds.secret,
                    "Token": imds.session_token, "Expiration": _iso(now + timedelta(hours=6))}
            return self._reply(200, json.dumps(body).encode(), "application/json")
        return self._reply(404)

    def httpd_service(self):
        return self.server.service


class Imds(_Service):
    """EC2's instance metadata service, IMDSv2: a token PUT, then the role
    name and its credentials, each GET with that token."""

    def __init__(self, access_key, secret, session_token, role="monitor-role"):
        super().__init__(_ImdsHandler)
        self.access_key, self.secret, self.session_token, self.role = access_key, secret, session_token, role
        self.token = "imds-session-" + hashlib.sha256(secret.encode()).hexdigest()[:16]


class _StsHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        sts = self.server.service
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        form = dict(pair.partition("=")[::2] for pair in body.split("&"))
        form = {unquote(k.replace("+", " ")): unquote(v.replace("+", " ")) for k, v in form.items()}
        sts.requests.append(form)
        if (form.get("Action") != "AssumeRoleWithWebIdentity" or form.get("RoleArn") != sts.role_arn
                or form.get("WebIdentityToken") != sts.web_token):
            reply = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                     "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>"
                     "</Error><RequestId>0</RequestId></ErrorResponse>").encode()
            status = 403
        else:
            expires = _iso(datetime.now(timezone.utc) + timedelta(hours=1))
            reply = (
                '<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                "<AssumeRoleWithWebIdentityResult><Credentials>"
                f"<AccessKeyId>{sts.access_key}</AccessKeyId><SecretAccessKey>{sts.secret}</SecretAccessKey>"
                f"<SessionToken>{sts.session_token}</SessionToken><Expiration>{expires}</Expiration>"
                "</Credentials><AssumedRoleUser>"
                f"<Arn>{sts.role_arn}/monitor</Arn><AssumedRoleId>AROAEXAMPLE:monitor</AssumedRoleId>"
                "</AssumedRoleUser><SubjectFromWebIdentityToken>system:serviceaccount:monitoring:icinga"
                "</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>"
                "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId>"
                "</ResponseMetadata></AssumeRoleWithWebIdentityResponse>").encode()
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


class Sts(_Service):
    """STS's AssumeRoleWithWebIdentity, the call an EKS pod's web identity
    token (IRSA) is exchanged by for role credentials."""

    def __init__(self, role_arn, web_token, access_key, secret, session_token):
        super().__init__(_StsHandler)
        self.role_arn, self.web_token = role_arn, web_token
        self.access_key, self.secret, self.session_token = access_key, secret, session_token


def isolated_env(home, **extra):
    """An environment in which botocore finds nothing of this machine's and
    can reach no AWS host: its files under ``home``, IMDS off, every AWS
    endpoint on a closed port of 127.0.0.1 unless ``extra`` says otherwise."""
    env = {"HOME": str(home), "AWS_CONFIG_FILE": str(home / "aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
           "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:9"}
    env.update(extra)
    return env


class _ContainerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        service = self.server.service
        service.requests.append((self.path, self.headers.get("Authorization")))
        if self.path != service.path or self.headers.get("Authorization") != service.auth_token:
            body, status = b'{"message": "denied"}', 403
        else:
            expires = _iso(datetime.now(timezone.utc) + timedelta(hours=1))
            body, status = json.dumps({"AccessKeyId": service.access_key, "SecretAccessKey": service.secret,
                                       "Token": service.session_token, "Expiration": expires}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class ContainerCredentials(_Service):
    """The credentials endpoint of ECS or EKS Pod Identity, that botocore
    reads from AWS_CONTAINER_CREDENTIALS_FULL_URI (with
    AWS_CONTAINER_AUTHORIZATION_TOKEN as its Authorization header)."""

    def __init__(self, access_key, secret, session_token, auth_token="container-auth-token"):
        super().__init__(_ContainerHandler)
        self.path = "/v2/credentials/monitor"
        self.access_key, self.secret, self.session_token, self.auth_token = (
            access_key, secret, session_token, auth_token)
