"""Test certificate authority for gnomon's integration tests.

Makes a throw-away CA and server certificates with GnuTLS's ``certtool`` (Debian
package gnutls-bin), so that real NTS-KE servers on loopback can be verified by
chrony's client and by gnomon's agent through ``TrustedCertificates=``.

A server certificate carries the DNS name ``localhost`` and the IP addresses
127.0.0.1 and ::1 as subject alternative names, so a client verifies it whether
it connects to "localhost", "127.0.0.1" or "::1".  More DNS names can be added
(the VM test gives the host's 10.0.2.2 a name in the guest's /etc/hosts).

Validity windows (``validity=``):

``"normal"``     valid from now - 1 day to now + 1 year;
``"backdated"``  valid from 2000-01-01 to 2099-01-01, so it verifies even after
                 the clock was stepped back to a build-date floor;
``"fresh"``      valid from now (to now + 1 year): after a step back to the
                 build date it is "not yet valid", the untrusted-clock case.

An explicit ``(not_before, not_after)`` pair of aware datetimes is accepted too.

Used as a module (``make_ca``, ``issue_server_cert``) or from the command line::

    python3 tests/harness/testca.py DIR [--validity fresh] [--dns-name NAME ...]

which prints the paths as one JSON object.

Standard library only; runs under Debian's python3 (3.11) or any newer one.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as _dt
import json
import os
import shutil
import subprocess
import sys
from typing import Iterable, Optional, Sequence, Tuple, Union

CERTTOOL = "certtool"
CERTTOOL_TIMEOUT = 30.0  # seconds, per certtool invocation

DEFAULT_DNS_NAMES = ("localhost",)
DEFAULT_IP_ADDRESSES = ("127.0.0.1", "::1")

BACKDATED_NOT_BEFORE = _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
BACKDATED_NOT_AFTER = _dt.datetime(2099, 1, 1, tzinfo=_dt.timezone.utc)

Validity = Union[str, Tuple[_dt.datetime, _dt.datetime]]


class CertError(RuntimeError):
    """certtool failed or is missing."""


@dataclasses.dataclass(frozen=True)
class ServerCert:
    """A server certificate and its private key (PEM files)."""

    cert_file: str
    key_file: str
    dns_names: Tuple[str, ...]
    ip_addresses: Tuple[str, ...]
    not_before: _dt.datetime
    not_after: _dt.datetime


@dataclasses.dataclass(frozen=True)
class TestCA:
    """A test CA with one server certificate issued by it.

    ``ca_file`` is what clients trust (chrony ``ntstrustedcerts``, gnomon
    ``TrustedCertificates=``); ``cert_file``/``key_file`` are the server's
    (chrony ``ntsservercert``/``ntsserverkey``).
    """

    directory: str
    ca_file: str
    ca_key_file: str
    server: ServerCert
    not_before: _dt.datetime
    not_after: _dt.datetime

    @property
    def cert_file(self) -> str:
        return self.server.cert_file

    @property
    def key_file(self) -> str:
        return self.server.key_file

    def as_dict(self) -> dict:
        return {
            "directory": self.directory,
            "ca_file": self.ca_file,
            "ca_key_file": self.ca_key_file,
            "cert_file": self.server.cert_file,
            "key_file": self.server.key_file,
            "dns_names": list(self.server.dns_names),
            "ip_addresses": list(self.server.ip_addresses),
            "not_before": _fmt_date(self.server.not_before),
            "not_after": _fmt_date(self.server.not_after),
        }


# --------------------------------------------------------------------------
# helpers


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)


def validity_window(validity: Validity) -> Tuple[_dt.datetime, _dt.datetime]:
    """Return (not_before, not_after) in UTC for a validity option."""
    if isinstance(validity, tuple):
        not_before, not_after = validity
        if not_before.tzinfo is None or not_after.tzinfo is None:
            raise ValueError("validity datetimes must be timezone-aware")
        if not_after <= not_before:
            raise ValueError("validity window is empty")
        return (not_before.astimezone(_dt.timezone.utc),
                not_after.astimezone(_dt.timezone.utc))
    now = _now()
    if validity == "normal":
        return now - _dt.timedelta(days=1), now + _dt.timedelta(days=365)
    if validity == "backdated":
        return BACKDATED_NOT_BEFORE, BACKDATED_NOT_AFTER
    if validity == "fresh":
        return now, now + _dt.timedelta(days=365)
    raise ValueError("unknown validity %r (normal, backdated, fresh)" % (validity,))


def _fmt_date(when: _dt.datetime) -> str:
    # certtool parses template dates with gnulib's parse_datetime.
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _quote(value: str) -> str:
    if any(c in value for c in '"\\\n\r'):
        raise ValueError("unsupported character in template value %r" % (value,))
    return '"%s"' % value


def _run_certtool(args: Sequence[str], log_file: str) -> None:
    if shutil.which(CERTTOOL) is None:
        raise CertError("certtool not found (install gnutls-bin)")
    with open(log_file, "ab") as log:
        try:
            proc = subprocess.run([CERTTOOL, *args], stdin=subprocess.DEVNULL,
                                  stdout=log, stderr=log,
                                  timeout=CERTTOOL_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise CertError("certtool timed out: %s" % " ".join(args)) from exc
    if proc.returncode != 0:
        with open(log_file, "r", errors="replace") as log:
            tail = log.read()[-2000:]
        raise CertError("certtool %s failed (exit %d):\n%s"
                        % (" ".join(args), proc.returncode, tail))


def _write_private(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _generate_key(path: str, log_file: str) -> None:
    # ECDSA P-256: fast to generate, accepted by chrony and GnuTLS.
    _run_certtool(["--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
                   "--outfile", path], log_file)
    os.chmod(path, 0o600)


# --------------------------------------------------------------------------
# public API


def issue_server_cert(ca: TestCA, directory: str, name: str = "server", *,
                      dns_names: Iterable[str] = DEFAULT_DNS_NAMES,
                      extra_dns_names: Iterable[str] = (),
                      ip_addresses: Iterable[str] = DEFAULT_IP_ADDRESSES,
                      validity: Validity = "normal") -> ServerCert:
    """Issue another server certificate from ``ca`` into ``directory``.

    Files are ``NAME.crt`` and ``NAME.key``.  The certificate's window may
    differ from the CA's (a verifier checks both against its clock).
    """
    return _issue(ca.ca_file, ca.ca_key_file, directory, name,
                  dns_names=dns_names, extra_dns_names=extra_dns_names,
                  ip_addresses=ip_addresses, validity=validity)


def _issue(ca_file: str, ca_key_file: str, directory: str, name: str, *,
           dns_names: Iterable[str], extra_dns_names: Iterable[str],
           ip_addresses: Iterable[str], validity: Validity) -> ServerCert:
    os.makedirs(directory, mode=0o755, exist_ok=True)
    dns = tuple(dict.fromkeys([*dns_names, *extra_dns_names]))
    ips = tuple(dict.fromkeys(ip_addresses))
    if not dns and not ips:
        raise ValueError("a server certificate needs a DNS name or an IP address")
    not_before, not_after = validity_window(validity)
    key_file = os.path.join(directory, name + ".key")
    cert_file = os.path.join(directory, name + ".crt")
    template = os.path.join(directory, name + ".tmpl")
    log_file = os.path.join(directory, "certtool.log")
    lines = ['cn = %s' % _quote(dns[0] if dns else ips[0]),
             'organization = "gnomon tests"']
    lines += ['dns_name = %s' % _quote(d) for d in dns]
    lines += ['ip_address = %s' % _quote(i) for i in ips]
    lines += ["tls_www_server", "signing_key", "encryption_key",
              'activation_date = %s' % _quote(_fmt_date(not_before)),
              'expiration_date = %s' % _quote(_fmt_date(not_after))]
    _write_private(template, "\n".join(lines) + "\n")
    _generate_key(key_file, log_file)
    _run_certtool(["--generate-certificate", "--load-privkey", key_file,
                   "--load-ca-certificate", ca_file,
                   "--load-ca-privkey", ca_key_file,
                   "--template", template, "--outfile", cert_file], log_file)
    return ServerCert(cert_file=cert_file, key_file=key_file, dns_names=dns,
                      ip_addresses=ips, not_before=not_before, not_after=not_after)


def make_ca(directory: str, *, validity: Validity = "normal",
            server_validity: Optional[Validity] = None,
            dns_names: Iterable[str] = DEFAULT_DNS_NAMES,
            extra_dns_names: Iterable[str] = (),
            ip_addresses: Iterable[str] = DEFAULT_IP_ADDRESSES,
            extra_ip_addresses: Iterable[str] = ()) -> TestCA:
    """Create a CA and one server certificate in ``directory``.

    ``validity`` applies to the CA and, unless ``server_validity`` is given,
    to the server certificate.  Files: ca.crt, ca.key, server.crt, server.key
    (keys 0600), plus templates and certtool.log.  Takes well under a second.
    """
    # World-readable directory and certificates (the agent runs as its own
    # user and must read ca.crt); private keys are 0600.
    os.makedirs(directory, mode=0o755, exist_ok=True)
    directory = os.path.abspath(directory)
    not_before, not_after = validity_window(validity)
    ca_key = os.path.join(directory, "ca.key")
    ca_file = os.path.join(directory, "ca.crt")
    template = os.path.join(directory, "ca.tmpl")
    log_file = os.path.join(directory, "certtool.log")
    _write_private(template, "\n".join([
        'cn = "gnomon test CA"',
        'organization = "gnomon tests"',
        "ca",
        "cert_signing_key",
        "crl_signing_key",
        'activation_date = %s' % _quote(_fmt_date(not_before)),
        'expiration_date = %s' % _quote(_fmt_date(not_after)),
    ]) + "\n")
    _generate_key(ca_key, log_file)
    _run_certtool(["--generate-self-signed", "--load-privkey", ca_key,
                   "--template", template, "--outfile", ca_file], log_file)
    server = _issue(
        ca_file, ca_key, directory, "server", dns_names=dns_names,
        extra_dns_names=extra_dns_names,
        ip_addresses=[*ip_addresses, *extra_ip_addresses],
        validity=validity if server_validity is None else server_validity)
    return TestCA(directory=directory, ca_file=ca_file, ca_key_file=ca_key,
                  server=server, not_before=not_before, not_after=not_after)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Make a test CA and a server certificate.")
    parser.add_argument("directory")
    parser.add_argument("--validity", choices=("normal", "backdated", "fresh"),
                        default="normal")
    parser.add_argument("--dns-name", action="append", default=[],
                        help="extra DNS name for the server certificate (repeatable)")
    parser.add_argument("--ip-address", action="append", default=[],
                        help="extra IP address for the server certificate (repeatable)")
    args = parser.parse_args(argv)
    try:
        ca = make_ca(args.directory, validity=args.validity,
                     extra_dns_names=args.dns_name,
                     extra_ip_addresses=args.ip_address)
    except (CertError, ValueError, OSError) as exc:
        print("testca: %s" % exc, file=sys.stderr)
        return 1
    print(json.dumps(ca.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
