#!/usr/bin/env python3
"""Who may do what (interfaces.md, polkit actions; clock-policy.md, the helper's own rules),
with a real polkitd on the private bus. The helper called directly as gnomon refuses, each
with its named error, an over-limit slew, an over-limit step, a stale measurement and a step
before its floor, and answers a repeated request ID with the earlier answer and one change;
other users are denied by polkit, and gnomon may not approve steps. The agent's SyncNow is
for active local users (a test rule stands in for logind), SetOnline for root, Reload for
administrators; without polkitd every check fails closed."""
import json
import sys
import time

import gnomon_test as gt
from agent_world import AgentWorld

SEC = 1_000_000_000


def boottime():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def step_args(offset, measured, request_id):
    return ["int64 %d" % offset, "uint64 0", "uint64 %d" % measured, "'%s'" % request_id]


def main():
    tap = gt.Tap()
    with AgentWorld("auth-helper", with_agent=False) as w:
        def helper(method, *args, user="gnomon"):
            return w.gdbus(method, *args, user=user)

        reply, error = helper("Step", *step_args(1 * SEC, boottime(), "once"))
        tap.ok(error is None, "gnomon: Step +1 s with a fresh measurement is accepted", error)
        reply2, error = helper("Step", *step_args(1 * SEC, boottime(), "once"))
        tap.ok(error is None, "gnomon: the same request ID again gets the same answer", error)
        once = [r for r in w.records() if r.get("request_id") == "once"]
        changes = [r for r in once if r["verdict"] == "accepted" and not r.get("repeated")]
        tap.ok(len(once) == 2 and len(changes) == 1,
               "the record shows two requests and one change", json.dumps(once))
        tap.ok(abs(w.read_virtual_clock()["offset_ns"] - 1 * SEC) < 1000,
               "the simulated clock moved +1 s once (%d)" % w.read_virtual_clock()["offset_ns"])

        for name, args, wanted in [
            ("over-limit step (+2000 s after the boot window)",
             step_args(2000 * SEC, boottime(), "big"), "org.gnomon.Error.LimitExceeded"),
            ("stale measurement (60 s old)",
             step_args(1 * SEC, boottime() - 60 * SEC, "stale"), "org.gnomon.Error.Stale"),
            ("step before the floor (40 years back)",
             step_args(-40 * 365 * 86400 * SEC, boottime(), "floor"),
             "org.gnomon.Error.BeforeFloor"),
        ]:
            _, error = helper("Step", *args)
            tap.ok(error is not None and wanted in error, "gnomon: %s refused with %s"
                   % (name, wanted), error)
        _, error = helper("Slew", "int64 %d" % (600 * 1_000_000), "uint64 0")
        tap.ok(error is not None and "org.gnomon.Error.LimitExceeded" in error,
               "gnomon: over-limit slew (0.6 s) refused with LimitExceeded", error)
        _, error = helper("Slew", "int64 1000", "uint64 0", user="gnomon-test-user")
        tap.ok(error is not None and "NotAuthorized" in error,
               "another user: Slew denied by polkit", error)
        _, error = helper("Step", *step_args(1 * SEC, boottime(), "intruder"),
                          user="gnomon-test-user")
        tap.ok(error is not None and "NotAuthorized" in error,
               "another user: Step denied by polkit", error)
        _, error = helper("ApproveStep", "int64 %d" % (10 * SEC), "uint64 %d" % SEC)
        tap.ok(error is not None and "NotAuthorized" in error,
               "gnomon: ApproveStep denied (only an administrator names a step)", error)
        refused = [r for r in w.records() if r["verdict"] != "accepted"]
        tap.ok(len(refused) >= 4 and all(r.get("rule") for r in refused),
               "every refusal is recorded with its rule (%d)" % len(refused))

    with AgentWorld("auth-agent") as w:
        tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=40),
               "agent synchronized", w.agent_log_tail())

        def agent(method, *args, user=None):
            from agent_world import AGENT_NAME, AGENT_PATH
            return w.gdbus(method, *args, user=user, service=AGENT_NAME, path=AGENT_PATH)

        _, error = agent("SyncNow", user="gnomon-test-user")
        tap.ok(error is None, "SyncNow by an active local user (test rule) is accepted", error)
        _, error = agent("SyncNow", user="gnomon-test-admin")
        tap.ok(error is not None and "NotAuthorized" in error,
               "SyncNow by a user without an active session is denied", error)
        _, error = agent("SetOnline", "false", user="gnomon-test-user")
        tap.ok(error is not None and "NotAuthorized" in error,
               "SetOnline by a non-root user is denied", error)
        tap.ok(w.prop("Online") is True, "and the agent stays online")
        _, error = agent("Reload", user="gnomon-test-user")
        tap.ok(error is not None and "NotAuthorized" in error,
               "Reload without authorization is denied", error)
        _, error = agent("SetOnline", "false")
        tap.ok(error is None and w.wait_for(lambda: w.prop("State") == "offline", timeout=10),
               "SetOnline(false) by root: State offline", error)
        _, error = agent("SetOnline", "true")
        tap.ok(error is None and w.wait_for(lambda: w.prop("State") == "synchronized",
                                            timeout=30),
               "SetOnline(true) by root: synchronized again", error)
        _, error = agent("Reload")
        tap.ok(error is None, "Reload by root", error)

        w.polkitd.stop()
        w.polkitd = None
        _, error = agent("SyncNow", user="gnomon-test-user")
        tap.ok(error is not None and "NotAuthorized" in error and "polkit" in error,
               "without polkitd, SyncNow fails closed and says why", error)
        for method, args in (("SetOnline", ("false",)), ("Reload", ())):
            _, error = agent(method, *args, user="gnomon-test-user")
            tap.ok(error is not None and "NotAuthorized" in error and "polkit" in error,
                   "without polkitd, %s by a user fails closed and says why" % method, error)
        tap.ok(w.prop("Online") is True, "and the agent stays online")
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
