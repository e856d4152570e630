#!/usr/bin/env python3
"""Life on a real laptop or VM (clock-policy.md, interfaces.md "Files"), with the agent as
gnomon on a private bus, polkitd, the dry-run helper and four chrony NTS servers; key
exchanges and NTP packets are counted at the servers (serverstats).
- killed and restarted: cookies and frequency reused, no NTS-KE, state files intact;
- state files truncated, corrupt, foreign-owned or from another machine: reported,
  ignored, rewritten;
- --query while the agent runs: an in-memory jar, the agent's cookies untouched;
- offline: no packets at all; online: synchronized again within seconds;
- servers vanish one by one: decisions while the quorum holds, no-consensus when it does
  not, recovery when they return;
- a resume (logind's PrepareForSleep) and a clock set by someone else each start a fresh
  round, and the running limits decide (a 2 h set is refused, not stepped);
- the helper killed in the middle of a request: reported, never two steps for one
  decision, and the agent recovers;
- a lost answer: the helper makes the step but answers after the agent stopped waiting
  (--answer-delay): the agent asks what became of its request, counts the step as made,
  and never asks for it again."""
import glob
import json
import os
import signal
import subprocess
import sys
import time

import gnomon_test as gt
from agent_world import HELPER_NAME, HELPER_PATH, AgentWorld
from bus import run_as

SEC = 1_000_000_000
MS = 1_000_000
FAKE_LOGIN1 = os.environ.get("GNOMON_FAKE_LOGIN1",
                             os.path.join(gt.BUILD_DIR, "tests", "tools", "fake-login1"))


def synchronized(w):
    return w.prop("State") == "synchronized"


def ke_counts(w):
    return [s.ke_connections() for s in w.servers]


def ntp_counts(w):
    return [s.ntp_packets_received() for s in w.servers]


def state_files(w):
    return sorted(glob.glob(w.path("agent-state", "source-*.json")))


def accepted(w, method):
    return [r for r in w.records() if r["method"] == method and r["verdict"] == "accepted"]


def restart_agent(w, kill=False):
    w.stop_agent(sig_kill=kill)
    w.start_agent()


def main():
    tap = gt.Tap()
    with AgentWorld("life", honest=4) as w:
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=40), "synchronized",
               w.agent_log_tail())
        tap.ok(ke_counts(w) == [1, 1, 1, 1], "one NTS-KE per server (%s)" % ke_counts(w))

        # Killed (SIGKILL) and restarted: keys and cookies come from the state files.
        restart_agent(w, kill=True)
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=40), "after SIGKILL and restart: "
               "synchronized", w.agent_log_tail())
        tap.ok(ke_counts(w) == [1, 1, 1, 1], "after restart: no NTS-KE at any server (%s)"
               % ke_counts(w))
        files = state_files(w)
        intact = all(json.load(open(f)).get("version") == 1 for f in files)
        tap.ok(len(files) == 4 and intact, "state files intact (%d)" % len(files))
        agent_state = json.load(open(w.path("agent-state", "agent.json")))
        tap.ok(abs(agent_state["frequency_ppm"] - w.prop("Frequency")) < 1e-3,
               "the saved frequency is the one in use (%s ppm)" % agent_state["frequency_ppm"])

        # Damaged state files: each said, ignored and rewritten.
        w.stop_agent()
        truncated, corrupt, foreign_machine, foreign_owner = files
        with open(truncated, "r+") as f:
            f.truncate(20)
        with open(corrupt, "w") as f:
            f.write("\x00\x01 not json at all")
        data = json.load(open(foreign_machine))
        data["machine_id"] = "0123456789abcdef0123456789abcdef"
        with open(foreign_machine, "w") as f:
            json.dump(data, f)
        os.chown(foreign_owner, 0, 0)
        w.start_agent()
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=40),
               "damaged state files: synchronized anyway", w.agent_log_tail())
        log = w.agent_log_tail(200000)
        for name, path in [("truncated", truncated), ("corrupt", corrupt),
                           ("other machine", foreign_machine), ("foreign-owned", foreign_owner)]:
            tap.ok(os.path.basename(path) in log and "ignoring stored keys" in log,
                   "%s state file: reported by name" % name)
        tap.ok(w.wait_for(lambda: all(json.load(open(f)).get("machine_id") ==
                                      open("/etc/machine-id").read().strip() and
                                      os.stat(f).st_uid != 0 for f in state_files(w)),
                          timeout=20),
               "damaged state files: all rewritten, ours and this machine's")
        tap.ok(sorted(ke_counts(w)) == [2, 2, 2, 2],
               "damaged state files: one new NTS-KE per damaged source (%s)" % ke_counts(w))

        # --query beside the running agent: never the agent's cookies.
        r = run_as("gnomon", gt.wrapped([gt.AGENT, "--config", w.config, "--query", "--json",
                                         "--state-directory", w.path("agent-state")]),
                   env=w.bus.env(), timeout=120)
        tap.ok(r.returncode == 0 and "in-memory cookie jar" in r.stderr,
               "--query while the agent runs: consensus with an in-memory jar",
               r.stdout + r.stderr)
        query_json = json.loads(r.stdout) if r.stdout.strip().startswith("{") else {}
        tap.ok(len(query_json.get("sources", [])) == 4 and
               all(s["key_exchanges"] == 1 for s in query_json["sources"]),
               "--query made its own key exchanges instead of taking the agent's cookies (%s)"
               % [s["key_exchanges"] for s in query_json.get("sources", [])])

        # Offline: no packets; online: synchronized within seconds.
        w.gdbus("SetOnline", "false", service="org.gnomon.Agent1", path="/org/gnomon/Agent1")
        tap.ok(w.wait_for(lambda: w.prop("State") == "offline", timeout=10), "offline")
        time.sleep(1)
        quiet_from = ntp_counts(w)
        time.sleep(10)  # more than two of the test's 4 s polls
        tap.ok(ntp_counts(w) == quiet_from, "offline: no NTP packet in 10 s (%s)" % quiet_from)
        started = time.monotonic()
        w.gdbus("SetOnline", "true", service="org.gnomon.Agent1", path="/org/gnomon/Agent1")
        back = w.wait_for(lambda: synchronized(w) and ntp_counts(w) != quiet_from, timeout=15)
        tap.ok(back, "online: synchronized again in %.1f s" % (time.monotonic() - started))

        # Servers vanish one by one (quorum 3 of 4).
        w.servers[0].stop_process()
        # It drops out once its reach register is empty: eight polls (RFC 5905).
        tap.ok(w.wait_for(lambda: w.prop("AgreeingSources") == 3 and synchronized(w),
                          timeout=120), "one server gone: still synchronized on 3",
               w.agent_log_tail())
        w.servers[1].stop_process()
        tap.ok(w.wait_for(lambda: w.prop("State") == "no-consensus", timeout=150),
               "two servers gone: no-consensus", w.agent_log_tail())
        w.servers[0].restart()
        w.servers[1].restart()
        w.gdbus("SetOnline", "false", service="org.gnomon.Agent1", path="/org/gnomon/Agent1")
        w.gdbus("SetOnline", "true", service="org.gnomon.Agent1", path="/org/gnomon/Agent1")
        tap.ok(w.wait_for(lambda: synchronized(w) and w.prop("AgreeingSources") == 4,
                          timeout=60), "servers back: synchronized on 4", w.agent_log_tail())

        # A resume: logind says the machine woke.
        r = subprocess.run([FAKE_LOGIN1, "false"], env=w.bus.env(), capture_output=True,
                           text=True, timeout=20)
        tap.ok(r.returncode == 0, "a stand-in logind announced a resume", r.stderr)
        tap.ok(w.wait_for(lambda: "resumed after sleeping" in w.agent_log_tail(100000),
                          timeout=10), "resume: a fresh round at once", w.agent_log_tail())

        # Someone else sets the (simulated) clock: +5 s, then +2 h.
        steps_before = len(accepted(w, "Step"))
        clock = w.read_virtual_clock()
        w.write_virtual_clock(clock["offset_ns"] + 5 * SEC, clock.get("frequency_ppm", 0.0))
        # Noticed as a set at once; or, when the write lands right beside one of our own
        # requests, as an unexplained offset at the next poll: a fresh round either way.
        tap.ok(w.wait_for(lambda: "someone else set the clock" in w.agent_log_tail(100000) or
                          "unexplained offset of -5." in w.agent_log_tail(100000), timeout=10),
               "the set of the clock starts a fresh round", w.agent_log_tail())
        stepped = w.wait_for(lambda: len(accepted(w, "Step")) == steps_before + 1, timeout=40)
        tap.ok(stepped and abs(accepted(w, "Step")[-1]["offset_ns"] + 5 * SEC) < 50 * MS,
               "and 5 s are stepped back within the running limits",
               accepted(w, "Step")[-1:] if stepped else w.agent_log_tail())
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=30), "synchronized again")
        clock = w.read_virtual_clock()
        w.write_virtual_clock(clock["offset_ns"] + 7200 * SEC, clock.get("frequency_ppm", 0.0))
        tap.ok(w.wait_for(lambda: w.prop("State") == "step-refused", timeout=40),
               "a 2 h set after the boot window: the step back is refused, not made",
               w.agent_log_tail())
        tap.ok(len(accepted(w, "Step")) == steps_before + 1, "no step for the 2 h")

    # The helper killed in the middle of a request: frozen, the clock moved so that a step
    # is due, killed once the agent has asked for it.
    with AgentWorld("life-helper") as w:
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=40), "helper test: synchronized")
        helper_pid = w.bus.owner_pid(HELPER_NAME)
        os.kill(helper_pid, signal.SIGSTOP)
        clock = w.read_virtual_clock()
        w.write_virtual_clock(clock["offset_ns"] - 2 * SEC, clock.get("frequency_ppm", 0.0))
        asked = w.wait_for(lambda: "asking the clock helper to step" in w.agent_log_tail(100000),
                           timeout=90)
        time.sleep(1)
        os.kill(helper_pid, signal.SIGKILL)
        tap.ok(asked, "the agent asked the frozen helper for a step", w.agent_log_tail())
        tap.ok(w.wait_for(lambda: synchronized(w) and len(accepted(w, "Step")) == 1,
                          timeout=90), "helper killed mid-request: the agent recovers",
               w.agent_log_tail())
        log = w.agent_log_tail(100000)
        tap.ok("answer lost" in log, "and says the answer was lost", log)
        time.sleep(6)
        steps = accepted(w, "Step")
        tap.ok(len(steps) == 1 and abs(steps[0]["offset_ns"] - 2 * SEC) < 50 * MS,
               "exactly one step, of +2 s, for the one decision (%d)" % len(steps))

    # A lost answer: the helper steps at once but answers 20 s later, after the agent's 15 s
    # wait; the clock starts 30 s behind, so the first decision is a step in the boot window.
    with AgentWorld("life-lost", virtual_offset_ns=-30 * SEC,
                    helper_args=["--answer-delay", "20000"]) as w:
        stepped = w.wait_for(lambda: len(accepted(w, "Step")) == 1, timeout=60)
        tap.ok(stepped, "lost answer: the helper made the step", w.agent_log_tail())
        told = w.wait_for(lambda: "answer lost; the helper says it was accepted"
                          in w.agent_log_tail(100000), timeout=40)
        tap.ok(told, "the agent asked the helper and took the step as made", w.agent_log_tail())
        tap.ok(w.wait_for(lambda: synchronized(w), timeout=30), "and is synchronized",
               w.agent_log_tail())
        # Past the helper's late answer and more rounds: still the one step.
        time.sleep(10)
        steps = accepted(w, "Step")
        tap.ok(len(steps) == 1 and abs(steps[0]["offset_ns"] - 30 * SEC) < 50 * MS,
               "exactly one step, of +30 s, for the one decision (%d)" % len(steps),
               steps)
        clock = w.read_virtual_clock()
        tap.ok(abs(clock["offset_ns"]) < 50 * MS,
               "the simulated clock is right (%+.3f s off)" % (clock["offset_ns"] / SEC))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
