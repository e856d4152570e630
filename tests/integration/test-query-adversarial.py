#!/usr/bin/env python3
"""gnomon-agent --query with one misbehaving source among three honest chrony servers: for
each behaviour of the adversarial NTS server (tests/nts-test-server), that source must end
in the right state with a specific error, the agent must not crash (valgrind and the
sanitizers watch it in those test setups), and the honest three must still decide."""
import concurrent.futures
import os
import shutil
import sys

import gnomon_test as gt
from adversary import AdversarialServer
from chrony_server import start_servers, stop_servers
from testca import make_ca

MS = 1_000_000

# behaviour -> (offset_ns, expected status, words the source's error must contain)
CASES = {
    "lie": (300 * MS, "falseticker", None),
    "ke-other-port": (0, ("selected", "candidate"), None),
    "wrong-uid": (0, "nts-auth-failed", "Unique Identifier does not match"),
    "bad-tag": (0, "nts-auth-failed", "authentication failed"),
    "zero-nonce": (0, "nts-auth-failed", "nonce is empty"),
    "short-nonce-unpadded": (0, "nts-auth-failed", "padding"),
    "nak": (0, "nts-auth-failed", "NTS NAK"),
    "no-cookies": (0, "nts-auth-failed", "without a new cookie"),
    "rate": (0, "unreachable", "kiss code RATE"),
    "unsynchronized": (0, "unreachable", "not synchronized"),
    "silent": (0, "unreachable", "no reply"),
    "ke-no-cookies": (0, "nts-ke-failed", "no cookies"),
    "ke-malformed": (0, "nts-ke-failed", "before End of Message"),
    "ke-oversized": (0, "nts-ke-failed", "longer than 16 KiB"),
    "ke-error": (0, "nts-ke-failed", "Error record, code 1"),
    "ke-unknown-critical": (0, "nts-ke-failed", "unknown critical record"),
    "ke-wrong-aead": (0, "nts-ke-failed", "AEAD"),
    "tls12-only": (0, "nts-ke-failed", "TLS"),
    "wrong-alpn": (0, "nts-ke-failed", "ntske/1"),
    "stall-handshake": (0, "nts-ke-failed", "no answer in time (in the TLS handshake)"),
    "stall-after-handshake": (0, "nts-ke-failed", "no answer in time (waiting for the response)"),
}


def run_case(behaviour, honest, ca, work):
    offset, expected, words = CASES[behaviour]
    server = AdversarialServer(gt.TEST_SERVER, ca.cert_file, ca.key_file, behaviour, offset,
                               quiet=True)
    server.start()
    try:
        sources = gt.chrony_sources(honest) + [{
            "name": "adversary", "host": "localhost", "port": server.ke_port,
            "operator": "Mallory"}]
        config = gt.write_config(os.path.join(work, behaviour + ".conf"), sources,
                                 TrustedCertificates=ca.ca_file)
        result = gt.query(config)
        alive = server.alive()
    finally:
        server.stop()
    return behaviour, expected, words, result, alive


def check(tap, behaviour, expected, words, r, alive):
    src = r.source("adversary")
    status = src["status"] if src else None
    wanted = expected if isinstance(expected, tuple) else (expected,)
    tap.ok(r.returncode == 0 and r.json and r.json["consensus"],
           "%s: the three honest sources still decide" % behaviour, r.diagnostics())
    tap.ok(r.returncode != gt.WRAPPER_ERROR_EXIT and r.returncode >= 0,
           "%s: the agent ran clean (exit %d)" % (behaviour, r.returncode), r.diagnostics())
    tap.ok(status in wanted, "%s: source ends %s (got %s)" % (behaviour, "/".join(wanted), status),
           r.diagnostics())
    if words is not None:
        error = (src or {}).get("error") or ""
        tap.ok(words in error, "%s: error names the cause (%r)" % (behaviour, error),
               r.diagnostics())
    if r.json:
        tap.ok(abs(r.json["offset_ns"]) < 1 * MS, "%s: |offset| < 1 ms" % behaviour,
               r.diagnostics())
    tap.ok(alive, "%s: the adversarial server itself stayed up" % behaviour)


def main():
    tap = gt.Tap()
    work = gt.workdir("adversarial")
    honest = []
    try:
        ca = make_ca(os.path.join(work, "ca"))
        honest = start_servers(3, ca=ca, parent_dir=work)
        # Independent queries: a few at once so the slow ones (timeouts) overlap; one at a
        # time under valgrind, where several slow TLS handshakes at once outlast chrony's
        # short NTS-KE session limit.
        workers = 1 if os.environ.get("GNOMON_TEST_WRAPPER") else 4
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(run_case, b, honest, ca, work) for b in CASES]
            results = sorted((f.result() for f in futures), key=lambda r: r[0])
        for behaviour, expected, words, r, alive in results:
            check(tap, behaviour, expected, words, r, alive)

        # A replayed reply: the first exchange is genuine; the next, with a stored cookie,
        # gets the old reply back and must refuse it.
        server = AdversarialServer(gt.TEST_SERVER, ca.cert_file, ca.key_file, "replay",
                                   quiet=True)
        server.start()
        try:
            sources = gt.chrony_sources(honest) + [{
                "name": "adversary", "host": "localhost", "port": server.ke_port,
                "operator": "Mallory"}]
            config = gt.write_config(os.path.join(work, "replay.conf"), sources,
                                     TrustedCertificates=ca.ca_file)
            state = os.path.join(work, "replay-state")
            first = gt.query(config, "--state-directory", state)
            second = gt.query(config, "--state-directory", state)
        finally:
            server.stop()
        src = first.source("adversary")
        tap.ok(src and src["status"] in ("selected", "candidate"),
               "replay: the first, genuine reply is used", first.diagnostics())
        check(tap, "replay", "nts-auth-failed", "origin timestamp does not match", second, True)
    finally:
        stop_servers(honest)
        shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
