#!/usr/bin/env python3
"""Boot with a bad clock (clock-policy.md): the simulated clock reads an hour before the
build date (the helper's and agent's floor) and the servers' certificates only become valid
just after it. First StepToFloor, before any TLS; then, with certificates failing only on
their validity period, key exchanges without that check, and a decision only when
UntrustedClockMinAgreeingSources (4) sources from as many operators agree on a time that
makes every such certificate valid. With 3 sources the agent refuses, and says why."""
import datetime
import re
import sys
import time

import agent_world
import gnomon_test as gt
import testca
from agent_world import AgentWorld

SEC = 1_000_000_000


def build_date():
    with open(gt.BUILD_DIR + "/build-config.h") as f:
        return int(re.search(r"GNOMON_BUILD_DATE_UNIX (\d+)", f.read()).group(1))


def world(honest):
    built = build_date()
    not_before = datetime.datetime.fromtimestamp(built + 5, datetime.timezone.utc)
    validity = (not_before, not_before + datetime.timedelta(days=365))
    # Certificates valid only from just after the build date: after StepToFloor the clock
    # still reads before them.
    agent_world.make_ca = lambda directory, **kw: testca.make_ca(directory, validity=validity)
    behind = int((time.time() - built + 3600) * SEC)
    return AgentWorld("bad-clock-%d" % honest, honest=honest, virtual_offset_ns=-behind)


def accepted(w, method):
    return [r for r in w.records() if r["method"] == method and r["verdict"] == "accepted"]


def main():
    tap = gt.Tap()
    with world(4) as w:
        tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=60),
               "4 sources: synchronized", w.agent_log_tail())
        records = [r for r in w.records() if r["verdict"] == "accepted"]
        tap.ok(records and records[0]["method"] == "StepToFloor",
               "the first change is StepToFloor, before any key exchange",
               [r["method"] for r in records])
        log = w.agent_log_tail(100000)
        tap.ok(log.count("retrying without the certificate's validity period") == 4,
               "each source retried its key exchange without the time check", log)
        tap.ok("untrusted-clock rule met: 4 sources from 4 operators agree" in log,
               "the untrusted-clock rule is met and logged", log)
        steps = accepted(w, "Step")
        tap.ok(len(steps) == 1 and steps[0]["offset_ns"] > 0,
               "then one forward step to the servers' time", steps)
        tap.ok(abs(w.read_virtual_clock()["offset_ns"]) < 50_000_000,
               "the simulated clock is right (%d ns)" % w.read_virtual_clock()["offset_ns"])
    with world(3) as w:
        said = w.wait_for(lambda: "3 sources from 3 operators agree, 4 of each needed"
                          in w.agent_log_tail(100000), timeout=60)
        tap.ok(said, "3 sources: the agent says why it will not decide", w.agent_log_tail())
        tap.ok(w.prop("State") == "no-consensus", "3 sources: State no-consensus")
        tap.ok(not accepted(w, "Step") and not accepted(w, "Slew"),
               "3 sources: nothing but StepToFloor changed the clock",
               [r["method"] for r in w.records()])
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
