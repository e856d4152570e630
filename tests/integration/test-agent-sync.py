#!/usr/bin/env python3
"""The running agent (as user gnomon, on a private bus with polkitd and the dry-run helper)
against real chrony NTS servers: it synchronizes with small slews only; a clock 2 s behind
in the boot window is stepped once and then only slewed; a lying minority never moves
the clock; both services show the API of interfaces.md and every property reads."""
import sys
import time

import gnomon_test as gt
from agent_world import AGENT_NAME, AGENT_PATH, HELPER_NAME, HELPER_PATH, AgentWorld

MS = 1_000_000
SEC = 1_000_000_000
AGENT_PROPERTIES = ["Synchronized", "State", "Offset", "Uncertainty", "LastSyncUSec",
                    "PollIntervalUSec", "Frequency", "AgreeingSources", "MinAgreeingSources",
                    "Online", "Sources", "PendingStep"]
HELPER_PROPERTIES = ["Backend", "Limits", "InBootWindow", "StepsThisBoot", "LastRequest",
                     "Approval"]


def accepted(world, method):
    return [r for r in world.records() if r["method"] == method and r["verdict"] == "accepted"]


def synchronized(world):
    return world.prop("Synchronized") and world.prop("State") == "synchronized"


def main():
    tap = gt.Tap()

    # 1. Honest servers: synchronized, small slews only.
    with AgentWorld("sync-honest") as w:
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=40),
               "honest servers: Synchronized, State synchronized", w.agent_log_tail())
        tap.ok(w.wait_for(lambda: len(accepted(w, "Slew")) >= 2, timeout=30),
               "honest servers: slews keep coming, one per poll", w.agent_log_tail())
        slews = accepted(w, "Slew")
        tap.ok(all(abs(r["offset_ns"]) < 1 * MS for r in slews),
               "honest servers: every slew under 1 ms (%s)" % [r["offset_ns"] for r in slews])
        tap.ok(not accepted(w, "Step"), "honest servers: no step")
        tap.ok(w.prop("AgreeingSources") == 3 and w.prop("MinAgreeingSources") == 3,
               "AgreeingSources 3 of MinAgreeingSources 3")
        sources = w.prop("Sources")
        tap.ok(len(sources) == 3 and all(s["Status"]["data"] == "selected" for s in sources),
               "Sources: three, all selected", sources)
        tap.ok(all(s["Cookies"]["data"] == 8 and s["Reach"]["data"] > 0 for s in sources),
               "Sources: full cookie jars and reach", sources)
        for name in AGENT_PROPERTIES:
            r = w.busctl("get-property", AGENT_NAME, AGENT_PATH, AGENT_NAME, name)
            tap.ok(r.returncode == 0, "get-property %s while syncing" % name, r.stderr)
        for name in HELPER_PROPERTIES:
            r = w.busctl("get-property", HELPER_NAME, HELPER_PATH, HELPER_NAME, name)
            tap.ok(r.returncode == 0, "helper get-property %s" % name, r.stderr)
        r = w.busctl("introspect", AGENT_NAME, AGENT_PATH, AGENT_NAME)
        members = ["SyncNow", "SetOnline", "Reload", "ClockStepped", "StepRefused"]
        tap.ok(r.returncode == 0 and all(m in r.stdout for m in members + AGENT_PROPERTIES),
               "introspect org.gnomon.Agent1 shows every member", r.stdout + r.stderr)
        r = w.busctl("introspect", HELPER_NAME, HELPER_PATH, HELPER_NAME)
        members = ["Slew", "SetFrequency", "Step", "StepToFloor", "ApproveStep",
                   "ClockChanged", "StepApproved"]
        tap.ok(r.returncode == 0 and all(m in r.stdout for m in members + HELPER_PROPERTIES),
               "introspect org.gnomon.ClockHelper1 shows every member", r.stdout + r.stderr)
        tap.ok(w.prop("Backend", HELPER_NAME, HELPER_PATH) == "dry-run",
               "the helper runs the dry-run backend")

    # 2. 2 s behind inside the boot window: exactly one step of about +2 s, then slews.
    with AgentWorld("sync-behind", virtual_offset_ns=-2 * SEC) as w:
        steps = w.wait_for(lambda: accepted(w, "Step"), timeout=40)
        tap.ok(steps and len(steps) == 1, "2 s behind: one step", w.agent_log_tail())
        if steps:
            tap.ok(abs(steps[0]["offset_ns"] - 2 * SEC) < 5 * MS,
                   "2 s behind: the step is +2 s (%d ns)" % steps[0]["offset_ns"])
        tap.ok(w.wait_for(lambda: len(accepted(w, "Slew")) >= 2, timeout=40),
               "2 s behind: slews follow", w.agent_log_tail())
        time.sleep(2)
        tap.ok(len(accepted(w, "Step")) == 1, "2 s behind: still exactly one step")
        tap.ok(abs(w.read_virtual_clock()["offset_ns"]) < 5 * MS,
               "2 s behind: the simulated clock is right again (%d ns)"
               % w.read_virtual_clock()["offset_ns"])
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=20), "2 s behind: then synchronized")
        tap.ok(w.prop("InBootWindow", HELPER_NAME, HELPER_PATH) is False,
               "the helper's boot window closed with the step")

    # 3. A lying minority (+30 s) never moves the clock.
    with AgentWorld("sync-liar", honest=3, liars=[30]) as w:
        tap.ok(w.wait_for(lambda: synchronized(w) and len(accepted(w, "Slew")) >= 2,
                          timeout=40), "3 honest + 1 liar: synchronized", w.agent_log_tail())
        changes = [r for r in w.records() if r["verdict"] == "accepted"]
        tap.ok(all(abs(r.get("offset_ns", 0)) < 1 * MS for r in changes) and
               not accepted(w, "Step"),
               "3 honest + 1 liar: no change larger than 1 ms, no step")
        liar = [s for s in w.prop("Sources") if s["Name"]["data"] == "liar-1"]
        tap.ok(liar and liar[0]["Status"]["data"] == "falseticker",
               "3 honest + 1 liar: the liar is a falseticker", liar)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
