#!/usr/bin/env python3
"""Configuration reload (interfaces.md: Reload, SIGHUP; issue "life on a laptop or VM"), with
the agent as gnomon on a private bus, polkitd, the dry-run helper and four chrony NTS servers,
key exchanges and NTP packets counted at the servers:
- a new configuration that does not load is refused with its cause, and the running one
  stays whole (same sources, still synchronized);
- a source added and one removed: the added one gets a key exchange, the ones kept keep
  their keys and cookies (no key exchange at their servers), the removed one hears no more
  packets;
- SIGHUP does what Reload does;
- a configuration file writable by others is loaded with a warning naming the risk."""
import os
import signal
import sys
import time

import gnomon_test as gt
from agent_world import AgentWorld


def ke_counts(w):
    return [s.ke_connections() for s in w.servers]


def ntp_counts(w):
    return [s.ntp_packets_received() for s in w.servers]


def source_names(w):
    # busctl --json gives each a{sv} value as {"type": ..., "data": ...}.
    return sorted(s["Name"]["data"] for s in w.prop("Sources"))


def write_sources(w, servers, **extra):
    keys = {"TrustedCertificates": w.ca.ca_file, "PollMinSeconds": 4, "PollMaxSeconds": 8,
            "StartJitterSeconds": 0}
    keys.update(extra)
    gt.write_config(w.config, gt.chrony_sources(servers), **keys)


def main():
    tap = gt.Tap()
    with AgentWorld("reload", honest=4, with_agent=False) as w:
        a, b, c, d = w.servers
        write_sources(w, [a, b, c], MinAgreeingSources=2, MinOperators=2)
        w.start_agent()
        tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=60),
               "synchronized with three sources", w.agent_log_tail())
        tap.ok(source_names(w) == sorted([a.name, b.name, c.name]), "Sources lists the three",
               source_names(w))
        ke_before = ke_counts(w)
        tap.ok(ke_before[:3] == [1, 1, 1] and ke_before[3] == 0,
               "one key exchange at each configured server, none at the fourth", ke_before)

        # A configuration that does not load: refused with its cause, nothing changes.
        with open(w.config, "a") as f:
            f.write("\n[Source broken]\nHost=localhost\nPort=notaport\nOperator=x\n")
        r = w.call("Reload")
        tap.ok(r.returncode != 0 and "Port" in r.stderr and "broken" in r.stderr,
               "Reload of a bad configuration fails and names the key and the section",
               r.stderr)
        tap.ok(source_names(w) == sorted([a.name, b.name, c.name]) and
               w.prop("State") == "synchronized",
               "the running configuration stays whole", source_names(w))

        # Source c removed, d added.
        write_sources(w, [a, b, d], MinAgreeingSources=2, MinOperators=2)
        r = w.call("Reload")
        tap.ok(r.returncode == 0, "Reload of a good configuration", r.stderr)
        tap.ok(w.wait_for(lambda: source_names(w) == sorted([a.name, b.name, d.name]),
                          timeout=10), "Sources lists the new set", source_names(w))
        tap.ok(w.wait_for(lambda: ke_counts(w)[3] == 1, timeout=30),
               "the added source makes its key exchange", ke_counts(w))
        tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=60),
               "synchronized with the new set", w.agent_log_tail())
        c_packets = ntp_counts(w)[2]
        time.sleep(10)  # more than two rounds at PollMaxSeconds=8
        after = ke_counts(w)
        tap.ok(after[:2] == ke_before[:2],
               "the kept sources made no new key exchange (their keys and cookies stayed)",
               after)
        tap.ok(ntp_counts(w)[2] == c_packets and after[2] == ke_before[2],
               "the removed source hears no more packets", ntp_counts(w))
        log = w.agent_log_tail(100000)
        tap.ok("2 sources kept, 1 added, 1 removed" in log, "the journal says what changed",
               log[-2000:])

        # SIGHUP: the same as Reload. Back to a, b, c; c's stored cookies are used again.
        write_sources(w, [a, b, c], MinAgreeingSources=2, MinOperators=2)
        os.chmod(w.config, 0o666)
        os.kill(w.agent.pid, signal.SIGHUP)
        tap.ok(w.wait_for(lambda: source_names(w) == sorted([a.name, b.name, c.name]),
                          timeout=10), "SIGHUP reloads: c is back, d gone", source_names(w))
        tap.ok(w.wait_for(lambda: ntp_counts(w)[2] > c_packets, timeout=30),
               "c is polled again", ntp_counts(w))
        tap.ok(ke_counts(w)[2] == ke_before[2],
               "with the cookies stored for it: no new key exchange at c", ke_counts(w))
        log = w.agent_log_tail(100000)
        tap.ok("writable by others" in log, "a world-writable configuration is warned about",
               log[-2000:])
        os.chmod(w.config, 0o644)
        tap.ok(w.agent.poll() is None, "the agent ran throughout")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
