"""Certificates for the TLS tests, made with the openssl command line."""
import ssl
import subprocess
from pathlib import Path
from types import SimpleNamespace


# P-256 keys: generated in milliseconds where RSA 2048 took about a second
# for the six of them, and every TLS library the plugin meets accepts them.
NEW_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(directory):
    d = Path(directory)

    def signed(name, san, days="2", ca="ca"):
        _openssl("req", *NEW_KEY, "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)
        # Python 3.13 verifies strictly (VERIFY_X509_STRICT): a certificate
        # needs an authority key identifier, the CA a key usage (below).
        (d / f"{name}.ext").write_text(f"subjectAltName={san}\nauthorityKeyIdentifier=keyid\n")
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", days, "-extfile", f"{name}.ext", cwd=d)

    _openssl("req", "-x509", *NEW_KEY, "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
             "-days", "3", "-subj", "/CN=check_es_snapshot test CA",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    signed("server", "IP:127.0.0.1,DNS:localhost")
    signed("mismatch", "DNS:other.example")
    signed("expired", "IP:127.0.0.1", days="-1")
    signed("client", "DNS:monitoring")
    _openssl("req", "-x509", *NEW_KEY, "-nodes", "-keyout", "selfsigned.key",
             "-out", "selfsigned.pem", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)
    cadir = d / "cadir"
    cadir.mkdir()
    (cadir / "ca.pem").write_bytes((d / "ca.pem").read_bytes())
    _openssl("rehash", str(cadir), cwd=d)
    return SimpleNamespace(dir=d, ca=d / "ca.pem", cadir=cadir, **{
        n: (d / f"{n}.pem", d / f"{n}.key") for n in ("server", "mismatch", "expired", "client", "selfsigned")})


def server_context(cert_and_key, client_ca=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, cert_and_key))
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(str(client_ca))
    return context
