#!/usr/bin/env python3
"""gnomon-agent --query against real NTS servers: Debian's chrony on loopback, honest ones
and liars (libfaketime, +30 s). Checks interoperability, falseticker rejection, the
majority and quorum rules, and that a unanimous lie is believed (gnomon cannot know
better). The servers run without CAP_SYS_TIME and with -x (tests/harness)."""
import os
import shutil
import sys

import gnomon_test as gt
from chrony_server import start_servers, stop_servers
from testca import make_ca

MS = 1_000_000
SEC = 1_000_000_000


def main():
    tap = gt.Tap()
    work = gt.workdir("interop")
    servers = []
    try:
        ca = make_ca(os.path.join(work, "ca"))
        servers = start_servers(3, liars=[30, 30, 30, 30], ca=ca, parent_dir=work)
        honest, liars = servers[:3], servers[3:]

        def run(name, chosen, **keys):
            config = gt.write_config(os.path.join(work, name + ".conf"), gt.chrony_sources(chosen),
                                     TrustedCertificates=ca.ca_file, **keys)
            return gt.query(config)

        r = run("honest", honest)
        tap.ok(r.returncode == 0 and r.json and r.json["consensus"],
               "3 honest chrony servers: consensus", r.diagnostics())
        if r.json:
            tap.ok(abs(r.json["offset_ns"]) < 1 * MS,
                   "3 honest: |offset| < 1 ms (%d ns)" % r.json["offset_ns"], r.diagnostics())
            tap.ok(all(s["status"] in ("selected", "candidate") for s in r.json["sources"]),
                   "3 honest: every source selected or candidate", r.diagnostics())
            tap.ok(r.json["agreeing"] == 3 and r.json["required"] == 3,
                   "3 honest: 3 agreeing, 3 required", r.diagnostics())
            tap.ok(all(s["key_exchanges"] == 1 and s["requests"] >= 1 for s in r.json["sources"]),
                   "3 honest: one key exchange and NTP per source", r.diagnostics())

        r = run("one-liar", honest + liars[:1])
        tap.ok(r.returncode == 0 and r.json and r.json["consensus"],
               "3 honest + 1 liar (+30 s): consensus", r.diagnostics())
        if r.json:
            tap.ok(abs(r.json["offset_ns"]) < 1 * MS,
                   "3 honest + 1 liar: |offset| < 1 ms (%d ns)" % r.json["offset_ns"],
                   r.diagnostics())
            liar = r.source("liar-1")
            tap.ok(liar and liar["status"] == "falseticker",
                   "3 honest + 1 liar: the liar is a falseticker", r.diagnostics())
            tap.ok(liar and abs(liar["offset_ns"] - 30 * SEC) < 50 * MS,
                   "3 honest + 1 liar: the liar measured at +30 s", r.diagnostics())

        r = run("two-liars", honest[:2] + liars[:2], MinAgreeingSources=3)
        tap.ok(r.returncode == 3 and r.json and not r.json["consensus"],
               "2 honest + 2 agreeing liars at quorum 3: no consensus, exit 3", r.diagnostics())
        if r.json:
            tap.ok(not any(s["status"] == "selected" for s in r.json["sources"]),
                   "2 honest + 2 liars: nothing selected", r.diagnostics())

        r = run("all-liars", liars)
        tap.ok(r.returncode == 0 and r.json and r.json["consensus"],
               "4 liars agreeing at +30 s: consensus (no way to know better)", r.diagnostics())
        if r.json:
            tap.ok(abs(r.json["offset_ns"] - 30 * SEC) < 50 * MS,
                   "4 liars: offset +30 s (%d ns)" % r.json["offset_ns"], r.diagnostics())

        r = run("same-operator", honest, MinOperators=2)
        tap.ok(r.returncode == 0, "3 honest, 3 operators, MinOperators=2: consensus",
               r.diagnostics())
        same = [dict(s, operator="OneCorp") for s in gt.chrony_sources(honest)]
        config = gt.write_config(os.path.join(work, "one-op.conf"), same,
                                 TrustedCertificates=ca.ca_file, MinOperators=1)
        r = gt.query(config)
        tap.ok(r.returncode == 0, "one operator allowed with MinOperators=1", r.diagnostics())

        text = gt.run_agent(["--config", os.path.join(work, "one-liar.conf"), "--query"])
        tap.ok(text.returncode == 0 and "Consensus" in text.stdout and
               "falseticker" in text.stdout, "text output names the consensus and the falseticker",
               text.diagnostics())
    finally:
        stop_servers(servers)
        shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
