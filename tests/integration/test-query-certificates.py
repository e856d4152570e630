#!/usr/bin/env python3
"""gnomon-agent --query and the NTS-KE server's certificate (security.md, "network"): a
certificate for another host name, and one from a CA the configuration does not trust, are
refused in the TLS handshake with GnuTLS's reason, and those sources never vote. Three honest
chrony servers decide meanwhile; a fourth, a fifth and a sixth chrony present the bad
certificates (real servers: chrony's ntsservercert)."""
import dataclasses
import os
import shutil
import sys

import gnomon_test as gt
from chrony_server import start_servers, stop_servers
from testca import issue_server_cert, make_ca

MS = 1_000_000


def main():
    tap = gt.Tap()
    work = gt.workdir("certificates")
    servers = []
    try:
        for d in ("honest", "wrong-name", "other", "by-address", "wrong-name-cert"):
            os.makedirs(os.path.join(work, d))
        ca = make_ca(os.path.join(work, "ca"))
        honest = start_servers(3, ca=ca, parent_dir=os.path.join(work, "honest"))
        servers += honest
        # Signed by the trusted CA, but for another name (no "localhost", no loopback IP).
        wrong_name = issue_server_cert(ca, os.path.join(work, "wrong-name-cert"), "wrong",
                                       dns_names=("ntp.other.example",), ip_addresses=())
        servers += start_servers(1, ca=dataclasses.replace(ca, server=wrong_name),
                                 parent_dir=os.path.join(work, "wrong-name"))
        # The right name, but from a CA nobody configured.
        other = make_ca(os.path.join(work, "other-ca"))
        servers += start_servers(1, ca=other, parent_dir=os.path.join(work, "other"))
        # Host= an IP address: the certificate must carry that address (it has only a name).
        servers += start_servers(1, ca=dataclasses.replace(ca, server=wrong_name),
                                 parent_dir=os.path.join(work, "by-address"))

        sources = gt.chrony_sources(honest)
        sources += [
            {"name": "wrong-name", "host": "localhost", "port": servers[3].ke_port,
             "operator": "op-wrong-name"},
            {"name": "unknown-ca", "host": "localhost", "port": servers[4].ke_port,
             "operator": "op-unknown-ca"},
            {"name": "by-address", "host": "127.0.0.1", "port": servers[5].ke_port,
             "operator": "op-by-address"},
        ]
        config = gt.write_config(os.path.join(work, "gnomon.conf"), sources,
                                 TrustedCertificates=ca.ca_file)
        r = gt.query(config)
        tap.ok(r.returncode == 0 and r.json and r.json["consensus"],
               "the three honest servers decide", r.diagnostics())
        if r.json:
            tap.ok(abs(r.json["offset_ns"]) < 1 * MS, "|offset| < 1 ms", r.diagnostics())
            cases = [("wrong-name", "does not match"), ("unknown-ca", "issuer is unknown"),
                     ("by-address", "does not match")]
            for name, words in cases:
                s = r.source(name)
                tap.ok(s and s["status"] == "nts-ke-failed",
                       "%s: the key exchange fails" % name, r.diagnostics())
                error = (s or {}).get("error") or ""
                tap.ok("certificate" in error and words in error,
                       "%s: the error names the certificate's fault (%r)" % (name, error),
                       r.diagnostics())
                tap.ok(s and s.get("requests", 0) == 0,
                       "%s: no NTP request was sent with it" % name, r.diagnostics())
            tap.ok(r.json["agreeing"] == 3, "only the three honest sources agree",
                   r.diagnostics())
        for name, server in zip(("wrong-name", "unknown-ca", "by-address"), servers[3:]):
            tap.ok(server.ntp_packets_received() == 0,
                   "%s: no NTP packet reached its server" % name)
    finally:
        stop_servers(servers)
        if not os.environ.get("GNOMON_KEEP_TEST_DIRS"):
            shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
