#!/usr/bin/env python3
"""The network hooks (data/dispatcher/): NetworkManager's 50-gnomon and networkd-dispatcher's
50-gnomon-networkd, run as root the way each dispatcher runs them (NetworkManager: the
interface and the action as arguments and NM_DISPATCHER_ACTION, CONNECTIVITY_STATE, DEVICE_*
in an environment without PATH; networkd-dispatcher: IFACE, STATE, ... and no arguments)
against the real agent on a private bus (AgentWorld: chrony NTS servers on loopback, real
polkitd, dry-run helper). What the agent received is read from its log ("SetOnline(true)
by uid 0", "SyncNow by uid 0") and its Online property. Every action of the hooks' tables
is tried, unknown ones are ignored, a caller polkit refuses gets one line on stderr, and an
absent agent or bus is passed over quietly; the hooks always exit 0.

For `down` (NetworkManager) and `off` (networkd-dispatcher) the hooks ask the network
manager whether any connection is left. Neither NetworkManager nor systemd-networkd can run
here, so property_standin.py owns their bus name and answers that one property (State,
OperationalState); everything else is the real thing."""
import os
import re
import select
import subprocess
import sys
import time

import gnomon_test as gt
from agent_world import AgentWorld
from bus import NO_CLOCK_PRIVS, SETPRIV, as_user, terminate

SOURCE_ROOT = os.path.dirname(os.path.dirname(gt.HERE))
NM_HOOK = os.path.join(SOURCE_ROOT, "data", "dispatcher", "50-gnomon")
NETWORKD_HOOK = os.path.join(SOURCE_ROOT, "data", "dispatcher", "50-gnomon-networkd")
STANDIN = os.path.join(gt.HERE, "property_standin.py")
NM = ("org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager",
      "org.freedesktop.NetworkManager", "State", "u")
NETWORKD = ("org.freedesktop.network1", "/org/freedesktop/network1",
            "org.freedesktop.network1.Manager", "OperationalState", "s")
CALLS = {"online": r"SetOnline\(true\) by uid 0", "offline": r"SetOnline\(false\) by uid 0",
         "sync": r"SyncNow by uid 0"}
HOOK_TIMEOUT = 30


def nm_env(action, iface="eth0", connectivity=None):
    """What NetworkManager-dispatcher passes (no PATH: the hook sets its own)."""
    env = {"NM_DISPATCHER_ACTION": action}
    if iface:
        env.update({"DEVICE_IFACE": iface, "DEVICE_IP_IFACE": iface,
                    "CONNECTION_ID": "Wired connection 1",
                    "CONNECTION_UUID": "8d2a3a3e-5b1c-4a8e-9d55-3f1f5b7f0c11",
                    "IP4_ADDRESS_0": "192.0.2.10/24 192.0.2.1", "IP4_NUM_ADDRESSES": "1"})
    if connectivity is not None:
        env["CONNECTIVITY_STATE"] = connectivity
    return env


def networkd_env(state, iface="eth0"):
    """What networkd-dispatcher passes."""
    return {"IFACE": iface, "STATE": state, "OperationalState": state,
            "AdministrativeState": "configured", "ADDR": "192.0.2.10", "IP_ADDRS": "192.0.2.10",
            "IP6_ADDRS": "", "ESSID": ""}


class Hooks:
    def __init__(self, tap, world):
        self.tap = tap
        self.w = world

    def counts(self):
        log = self.w.agent_log_tail(limit=10 ** 7)
        return {name: len(re.findall(pattern, log)) for name, pattern in CALLS.items()}

    def run(self, hook, args, env, user=None, bus_address=None):
        env = dict(env)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address or self.w.bus.address
        argv = [hook] + list(args)
        argv = as_user(user, argv) if user else [SETPRIV] + NO_CLOCK_PRIVS + argv
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=HOOK_TIMEOUT)

    def case(self, name, hook, args, env, calls=(), online=None, user=None, bus_address=None,
             quiet=True):
        """Runs the hook; it must exit 0, make exactly the calls named (each once) and,
        unless quiet is False, print nothing; then Online must be online (when given)."""
        before = self.counts()
        result = self.run(hook, args, env, user=user, bus_address=bus_address)
        after = self.counts()
        made = {key: after[key] - before[key] for key in CALLS}
        wanted = {key: (1 if key in calls else 0) for key in CALLS}
        problems = []
        if result.returncode != 0:
            problems.append("exit %d" % result.returncode)
        if made != wanted:
            problems.append("calls %s, wanted %s" % (made, wanted))
        if quiet and (result.stdout.strip() or result.stderr.strip()):
            problems.append("printed: %r %r" % (result.stdout, result.stderr))
        if online is not None:
            value = self.w.prop("Online")
            if value is not online:
                problems.append("Online is %s, wanted %s" % (value, online))
        self.tap.ok(not problems, name, "; ".join(problems) + "\n" + self.w.agent_log_tail(1500))
        return result


class Standin:
    """property_standin.py on the world's bus, ended by its PID."""

    def __init__(self, world, spec, value):
        self.proc = subprocess.Popen([sys.executable, STANDIN] + list(spec) + [str(value)],
                                     env=world.bus.env(), stdout=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().strip() if ready else ""
        if line != "ready":
            terminate(self.proc)
            raise RuntimeError("property stand-in for %s did not start" % spec[0])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        terminate(self.proc)
        self.proc.stdout.close()


def main():
    tap = gt.Tap()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (the hooks run as root; test users; polkitd)")
        return 0
    with AgentWorld("dispatcher", with_agent=False) as w:
        h = Hooks(tap, w)
        for hook, args, env in ((NM_HOOK, ["eth0", "up"], nm_env("up")),
                                (NETWORKD_HOOK, [], networkd_env("routable"))):
            result = h.run(hook, args, env)
            tap.ok(result.returncode == 0 and not (result.stdout + result.stderr).strip(),
                   "%s with no agent on the bus: exit 0, quietly" % os.path.basename(hook),
                   "exit %d: %r" % (result.returncode, result.stdout + result.stderr))

        w.start_agent()
        tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=60),
               "agent synchronized", w.agent_log_tail())

        # NetworkManager, action by action.
        h.case("NM down, NetworkManager not on the bus: nothing (stays online)",
               NM_HOOK, ["eth0", "down"], nm_env("down"), online=True)
        h.case("NM connectivity-change NONE: SetOnline(false)",
               NM_HOOK, ["", "connectivity-change"], nm_env("connectivity-change", "", "NONE"),
               calls=["offline"], online=False)
        tap.ok(w.prop("State") == "offline", "agent State offline")
        h.case("NM up: SetOnline(true) and SyncNow",
               NM_HOOK, ["eth0", "up"], nm_env("up"), calls=["online", "sync"], online=True)
        h.case("NM connectivity-change FULL: SetOnline(true) and SyncNow",
               NM_HOOK, ["", "connectivity-change"], nm_env("connectivity-change", "", "FULL"),
               calls=["online", "sync"], online=True)
        for action in ("dhcp4-change", "dhcp6-change"):
            h.case("NM %s: SetOnline(true) only" % action,
                   NM_HOOK, ["eth0", action], nm_env(action), calls=["online"], online=True)
        for state in ("LIMITED", "PORTAL"):
            h.case("NM connectivity-change %s: SetOnline(true) only" % state,
                   NM_HOOK, ["", "connectivity-change"],
                   nm_env("connectivity-change", "", state), calls=["online"], online=True)
        h.case("NM connectivity-change UNKNOWN: nothing",
               NM_HOOK, ["", "connectivity-change"], nm_env("connectivity-change", "", "UNKNOWN"),
               online=True)
        for action in ("pre-up", "pre-down", "vpn-up", "vpn-down", "hostname", "reapply",
                       "dns-change", "bogus"):
            h.case("NM %s: ignored" % action, NM_HOOK, ["eth0", action], nm_env(action),
                   online=True)
        h.case("NM without arguments or action: ignored", NM_HOOK, [], {}, online=True)
        h.case("NM down with CONNECTIVITY_STATE=NONE: SetOnline(false)",
               NM_HOOK, ["eth0", "down"], nm_env("down", connectivity="NONE"),
               calls=["offline"], online=False)
        h.case("NM up again", NM_HOOK, ["eth0", "up"], nm_env("up"), calls=["online", "sync"],
               online=True)
        with Standin(w, NM, 70):
            h.case("NM down, NetworkManager still connected (State 70): nothing",
                   NM_HOOK, ["wlan0", "down"], nm_env("down", "wlan0"), online=True)
        with Standin(w, NM, 20):
            h.case("NM down, NetworkManager disconnected (State 20): SetOnline(false)",
                   NM_HOOK, ["eth0", "down"], nm_env("down"), calls=["offline"], online=False)
        h.case("NM up after the last down", NM_HOOK, ["eth0", "up"], nm_env("up"),
               calls=["online", "sync"], online=True)

        # networkd-dispatcher.
        h.case("networkd routable: SetOnline(true) and SyncNow",
               NETWORKD_HOOK, [], networkd_env("routable"), calls=["online", "sync"], online=True)
        h.case("networkd off, systemd-networkd not on the bus: nothing",
               NETWORKD_HOOK, [], networkd_env("off"), online=True)
        with Standin(w, NETWORKD, "routable"):
            h.case("networkd off, another link still routable: nothing",
                   NETWORKD_HOOK, [], networkd_env("off", "wlan0"), online=True)
        with Standin(w, NETWORKD, "no-carrier"):
            h.case("networkd off, no link routable (no-carrier): SetOnline(false)",
                   NETWORKD_HOOK, [], networkd_env("off"), calls=["offline"], online=False)
        h.case("networkd degraded: ignored", NETWORKD_HOOK, [], networkd_env("degraded"),
               online=False)
        h.case("networkd routable again", NETWORKD_HOOK, [], networkd_env("routable"),
               calls=["online", "sync"], online=True)

        # Failures are reported, never fatal.
        result = h.case("NM up by a user polkit refuses: exit 0, no change",
                        NM_HOOK, ["eth0", "up"], nm_env("up"), user="gnomon-test-user",
                        online=True, quiet=False)
        lines = result.stderr.strip().splitlines()
        tap.ok(len(lines) == 1 and "SetOnline" in lines[0] and
               "not authorized" in lines[0].lower(),
               "one line on stderr naming the call and the refusal", result.stderr)
        w.stop_agent()
        for hook, args, env in ((NM_HOOK, ["eth0", "up"], nm_env("up")),
                                (NM_HOOK, ["eth0", "down"], nm_env("down", connectivity="NONE")),
                                (NETWORKD_HOOK, [], networkd_env("routable"))):
            result = h.run(hook, args, env)
            tap.ok(result.returncode == 0 and not (result.stdout + result.stderr).strip(),
                   "%s %s after the agent stopped: exit 0, quietly"
                   % (os.path.basename(hook), env.get("NM_DISPATCHER_ACTION", env.get("STATE"))),
                   "exit %d: %r" % (result.returncode, result.stdout + result.stderr))
        start = time.monotonic()
        result = h.run(NM_HOOK, ["eth0", "up"], nm_env("up"),
                       bus_address="unix:path=" + w.path("no-such-bus"))
        tap.ok(result.returncode == 0 and not (result.stdout + result.stderr).strip() and
               time.monotonic() - start < 10,
               "NM up without a system bus: exit 0, quietly, at once",
               "exit %d: %r" % (result.returncode, result.stdout + result.stderr))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
