#!/usr/bin/env python3
"""Steps beyond the limits (clock-policy.md): after the boot window, all servers jump by 2 h
(libfaketime): no step, State step-refused, PendingStep, the StepRefused signal. An
administrator's approval for another offset changes nothing; one for this offset lets
exactly one step through. A restarted agent does not reopen the boot window."""
import sys
import time

import gnomon_test as gt
from agent_world import HELPER_NAME, HELPER_PATH, AgentWorld

MS = 1_000_000
SEC = 1_000_000_000
TWO_HOURS = 7200 * SEC


def steps(world):
    return [r for r in world.records() if r["method"] == "Step" and r["verdict"] == "accepted"]


def approve(world, offset_ns, tolerance_ns):
    return world.call("ApproveStep", offset_ns, tolerance_ns, user="gnomon-test-admin",
                      service=HELPER_NAME, path=HELPER_PATH, signature="xt")


def main():
    tap = gt.Tap()
    # Start 2 s behind so the first step closes the boot window, as on a real boot.
    with AgentWorld("steps", virtual_offset_ns=-2 * SEC) as w:
        tap.ok(w.wait_for(lambda: len(steps(w)) == 1 and w.prop("State") == "synchronized",
                          timeout=40), "boot window: one step, then synchronized",
               w.agent_log_tail())

        w.start_monitor()
        for server in w.servers:
            server.faketime = 7200
            server.restart()
        refused = w.wait_for(lambda: w.prop("State") == "step-refused", timeout=40)
        tap.ok(refused, "all servers +2 h after the boot window: State step-refused",
               w.agent_log_tail())
        pending = w.prop("PendingStep")
        tap.ok(abs(pending - TWO_HOURS) < 1 * SEC, "PendingStep is +2 h (%d ns)" % pending)
        tap.ok(len(steps(w)) == 1, "no step was made")
        tap.ok(w.prop("Synchronized") is False, "Synchronized is false")
        time.sleep(2)
        signals = w.stop_monitor()
        tap.ok("org.gnomon.Agent1.StepRefused" in signals, "the StepRefused signal went out",
               signals)

        # An approval for a different offset: the sources do not agree on it.
        r = approve(w, 3 * TWO_HOURS // 2, 10 * SEC)
        tap.ok(r.returncode == 0, "ApproveStep (3 h) by a test admin is accepted by polkit",
               r.stderr)
        time.sleep(8)  # two rounds at the test's 4 s poll
        tap.ok(len(steps(w)) == 1 and w.prop("State") == "step-refused",
               "an approval for 3 h does not step a 2 h offset", w.agent_log_tail())

        r = approve(w, pending, 10 * SEC)
        tap.ok(r.returncode == 0, "ApproveStep (PendingStep) by a test admin", r.stderr)
        done = w.wait_for(lambda: len(steps(w)) == 2, timeout=30)
        tap.ok(done, "the approved step is made", w.agent_log_tail())
        if done:
            step = steps(w)[1]
            tap.ok(abs(step["offset_ns"] - TWO_HOURS) < 1 * SEC,
                   "it is the +2 h step (%d ns)" % step["offset_ns"])
        tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=30),
               "then synchronized again", w.agent_log_tail())
        time.sleep(6)
        tap.ok(len(steps(w)) == 2, "and only one step came of the approval")
        approval = w.prop("Approval", HELPER_NAME, HELPER_PATH)
        tap.ok(approval == [0, 0, 0], "the helper forgot the approval (%s)" % approval)

        # A restart of the agent after the boot window: the servers move 2000 s further
        # (forward, over MaxStepSeconds: the boot window would allow it), must be refused.
        # (Moving the local clock back instead would put it before the build date, the
        # floor, and rightly call for StepToFloor.)
        w.stop_agent()
        for server in w.servers:
            server.faketime = 9200
            server.restart()
        w.start_agent()
        tap.ok(w.wait_for(lambda: w.prop("State") == "step-refused", timeout=40),
               "restarted agent: a 2000 s forward offset is refused", w.agent_log_tail())
        tap.ok(len(steps(w)) == 2, "restarted agent: the boot window stayed closed (no step)")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
