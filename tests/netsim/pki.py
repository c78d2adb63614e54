# SPDX-License-Identifier: GPL-3.0-or-later
"""A throw-away PKI for tests: CAs, broker (server) and client certificates.

    from pki import CA
    ca = CA(workdir, "haltgslb test CA")           # writes workdir/<slug>-ca.pem
    srv = ca.server("broker", hosts=["localhost"], ips=["127.0.0.1", "10.9.0.1"])
    eu = ca.client("eu-fra")                       # CN = prober id
    dns = ca.client("dns-1")                       # CN = DNS node id
    evil = CA(workdir, "foreign CA").client("eu-fra")   # same CN, other CA

Every issued item is a Cert with .cert, .key (PEM paths), .ca (the issuing
CA's certificate path), .cn. Keys are ECDSA P-256 (fast to generate, and
both Erlang's ssl and OpenSSL-based clients speak it); key files are 0600.
Validity starts an hour in the past (clock skew between namespaces does not
matter) and lasts `days`; `expired=True` issues a certificate that expired
yesterday. Uses python3-cryptography (Debian 12: 38.x).
"""
import datetime
import ipaddress
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class Cert:
    """An issued certificate: PEM file paths and the subject's CN."""

    def __init__(self, cn, cert, key, ca):
        self.cn, self.cert, self.key, self.ca = cn, cert, key, ca

    def __repr__(self):
        return "Cert(cn=%r, cert=%r)" % (self.cn, self.cert)


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def _write(path, data, mode):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "haltgslb tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


class CA:
    """A self-signed certificate authority writing its files into `workdir`."""

    def __init__(self, workdir, name="haltgslb test CA", days=30):
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self.name = name
        self.slug = _slug(name)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        ski = x509.SubjectKeyIdentifier.from_public_key(self._key.public_key())
        self._cert = (x509.CertificateBuilder()
                      .subject_name(_name(name)).issuer_name(_name(name))
                      .public_key(self._key.public_key())
                      .serial_number(x509.random_serial_number())
                      .not_valid_before(now - datetime.timedelta(hours=1))
                      .not_valid_after(now + datetime.timedelta(days=days))
                      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                      .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                   False, False), critical=True)
                      .add_extension(ski, critical=False)
                      .sign(self._key, hashes.SHA256()))
        self.cert = os.path.join(workdir, self.slug + "-ca.pem")
        self.key = os.path.join(workdir, self.slug + "-ca.key")
        _write(self.cert, self._cert.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(self.key, _key_pem(self._key), 0o600)

    def _issue(self, cn, file_stem, eku, san=None, days=30, expired=False):
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            start, end = now - datetime.timedelta(days=days + 1), now - datetime.timedelta(days=1)
        else:
            start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)
        b = (x509.CertificateBuilder()
             .subject_name(_name(cn)).issuer_name(self._cert.subject)
             .public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(start).not_valid_after(end)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(x509.KeyUsage(True, False, False, False, False, False, False,
                                          False, False), critical=True)
             .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 self._key.public_key()), critical=False))
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = b.sign(self._key, hashes.SHA256())
        stem = os.path.join(self.workdir, "%s-%s" % (self.slug, _slug(file_stem)))
        out = Cert(cn, stem + ".pem", stem + ".key", self.cert)
        _write(out.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        _write(out.key, _key_pem(key), 0o600)
        return out

    def server(self, cn, hosts=("localhost",), ips=("127.0.0.1",), **kw):
        """A TLS server certificate with DNS and IP subjectAltNames."""
        san = [x509.DNSName(h) for h in hosts] + \
              [x509.IPAddress(ipaddress.ip_address(a)) for a in ips]
        return self._issue(cn, "server-" + cn, ExtendedKeyUsageOID.SERVER_AUTH, san, **kw)

    def client(self, cn, **kw):
        """A TLS client certificate whose subject CN is `cn` (prober or node id)."""
        return self._issue(cn, "client-" + cn, ExtendedKeyUsageOID.CLIENT_AUTH, **kw)
