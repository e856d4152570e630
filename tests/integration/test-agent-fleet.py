#!/usr/bin/env python3
"""A fleet booting together (issue 13, clock-policy.md "Politeness"): 100 gnomon agents
started at once, with no stored cookies and StartJitterSeconds=5, against four chrony NTS
servers on loopback (four operators), key exchanges and NTP packets counted at the servers
(serverstats, polled about 8 times a second for the timing).
- First start: every agent makes one NTS-KE per source (100 x 4 at the servers, each
  server exactly 100, none failed or dropped); the exchanges are spread over the 5 s window: they lie
  between the first agent's start and the last one's start + 5 s, span at least 3.5 s, come
  on average 1.5-3.75 s after their agent started (uniform 0-5 s gives 2.5 s; no jitter
  would give ~0), and no 1 s window holds more than 35 % of them. The histogram is printed.
  Every agent reaches a decision and State "synchronized".
- All stopped with SIGTERM (exit 0, key and cookie files saved), all started again at once:
  not one NTS-KE at any server, at least 100 x 4 NTP packets, every agent decides again.
Per-agent memory (VmRSS) and times to the first decision are printed as diagnostics.

Every agent is a whole installation of its own, as on 100 machines: its own dbus-daemon
(the project's bus policies), its own real polkitd with the project's actions and rules
(Debian's polkitd costs ~8 MB and ~0.1 s a bus, so one per bus is affordable; a polkitd
serves only the bus it is on), its own gnomon-clock-helper activated on that bus in the
dry-run backend with its own virtual clock, its own state directory, running as user
gnomon. The helper really accepts the agent's slews (polkit rule for gnomon), so
"synchronized" is the whole path, not only the measurement. The servers, the test CA and
the configuration are shared, as a fleet shares them. Nothing touches this machine's clock.

Under GNOMON_TEST_WRAPPER (meson test --setup=valgrind) 100 memcheck agents would need
~20 GB and minutes of CPU, and under memcheck a process's first TLS handshake, slowed
further by its neighbours, outlasts chrony's fixed 2 s NTS-KE session timeout. So the
fleet then runs as two groups one after the other on the same servers: first
GNOMON_FLEET_WRAPPED (default 5) agents and their helpers under the wrapper, then the
other 95 plain with every check. The wrapped group is checked for everything but timing,
which valgrind's start-up dominates; a key exchange the server cut off is reported by the
agent, tried again at its next poll, and accounted for: the servers must count exactly one
NTS-KE per agent and source plus one per failure the agents logged, and none on restart.
Each group's counts are differences over its own phases. Under the sanitize setup (no
wrapper) all 100 run ASan+UBSan builds at once, with every check.
GNOMON_FLEET_AGENTS overrides the fleet size for experiments."""
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import gnomon_test as gt
from agent_world import AGENT_NAME, AGENT_PATH, BUS_POLICIES, POLICY, RULES, AgentWorld
from bus import PrivateBus, Polkitd, ensure_users, spawn_as
from chrony_server import ServerError, start_servers, stop_servers
from testca import make_ca

FLEET = int(os.environ.get("GNOMON_FLEET_AGENTS", "100"))
SOURCES = 4
JITTER_S = 5.0
WRAPPER = os.environ.get("GNOMON_TEST_WRAPPER", "").strip()
WRAPPED = min(FLEET, int(os.environ.get("GNOMON_FLEET_WRAPPED", "5"))) if WRAPPER else 0

START_TIMEOUT_S = 300 if WRAPPER else 90  # every agent owns its bus name
DECIDE_TIMEOUT_S = 300 if WRAPPER else 90  # every agent logged its first decision
RETRY_TIMEOUT_S = 180  # a failed key exchange is tried again at the next poll (32 s)
STOP_TIMEOUT_S = 120 if WRAPPER else 30  # SIGTERM to exit, for the whole fleet
POLL_PERIOD_S = 0.125  # serverstats of every server
WATCH_PERIOD_S = 0.05  # the agents' logs

STARTED = "owning org.gnomon.Agent1"
DECIDED = "decision: "
# How the agent reports a failed key exchange: "gnomon-agent: NAME: NTS-KE with HOST:PORT: ..."
KE_FAILED = re.compile(r"^gnomon-agent: ([\w-]+): NTS-KE with ", re.M)


class FleetWorld(AgentWorld):
    """One machine of the fleet: bus, polkitd, activatable dry-run helper, state directory
    and virtual clock of its own; servers, CA and configuration shared."""

    def __init__(self, index, config, wrap):
        super().__init__("fleet-%03d" % index, honest=0, with_agent=False)
        self.index = index
        self.config = config
        self.wrap = wrap
        self.events = {}  # marker -> monotonic time it was first seen in this phase
        self.ke_failures = []  # names of the sources whose NTS-KE failed in this phase
        self._log_pos = 0
        self._log_lock = threading.Lock()  # the log watcher thread vs. a new phase

    def wrapped(self, argv):
        return gt.wrapped(argv) if self.wrap else list(argv)

    def _start(self):
        for d in ("clock", "helper", "helper/runtime", "helper/state", "helper/timesync",
                  "services"):
            os.makedirs(self.path(d), mode=0o755, exist_ok=True)
        with open(self.path("helper", "clock-helper.conf"), "w") as f:
            f.write("[Limits]\n")
        self.write_helper_service(wrap=self.wrap)
        # A helper under memcheck, started beside others, takes longer than the default 10 s.
        self.bus = PrivateBus(self.path("bus"), policy_files=BUS_POLICIES,
                              service_dirs=[self.path("services")],
                              service_start_timeout=120 if self.wrap and WRAPPER else 30).start()
        self.polkitd = Polkitd(self.bus, actions=[POLICY], rules=[RULES]).start()
        os.makedirs(self.path("agent-state"), mode=0o700)
        shutil.chown(self.path("agent-state"), "gnomon", "gnomon")

    def start_agent(self, wait=False):
        with self._log_lock:
            self.events = {}
            self.ke_failures = []
            self._log_pos = (os.path.getsize(self.agent_log) if os.path.exists(self.agent_log)
                             else 0)
        log = open(self.agent_log, "a")
        self.agent = spawn_as("gnomon", self.wrapped([
            gt.AGENT, "--config", self.config, "--state-directory", self.path("agent-state"),
            "--virtual-clock", self.virtual_clock, "--verbose"]),
            env=self.bus.env(), stdout=log, stderr=log)
        log.close()

    def scan_log(self, now):
        """Notes the first time each marker shows up in this phase's part of the log."""
        with self._log_lock:
            try:
                with open(self.agent_log, "rb") as f:
                    f.seek(self._log_pos)
                    data = f.read()
            except OSError:
                return
            data = data[:data.rfind(b"\n") + 1]  # whole lines only
            self._log_pos += len(data)
            text = data.decode(errors="replace")
            for marker in (STARTED, DECIDED):
                if marker not in self.events and marker in text:
                    self.events[marker] = now
            self.ke_failures += KE_FAILED.findall(text)

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.agent.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, AttributeError):
            pass
        return None


class Observer:
    """Two threads: serverstats of every server, and the agents' logs. Times are
    time.monotonic(). No thread starts a process that must outlive it."""

    def __init__(self, servers, worlds):
        self.servers = servers
        self.worlds = worlds
        self.samples = []  # (time, [(ke, ntp, ke_dropped) per server])
        self.errors = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._poll, daemon=True),
                         threading.Thread(target=self._watch, daemon=True)]

    def counts(self):
        row = []
        for server in self.servers:
            stats = server.serverstats()
            row.append((int(stats["NTS-KE connections accepted"]),
                        int(stats["NTP packets received"]),
                        int(stats.get("NTS-KE connections dropped", 0))))
        return row

    def _poll(self):
        while not self._stop.is_set():
            before = time.monotonic()
            try:
                row = self.counts()
                after = time.monotonic()
                self.samples.append(((before + after) / 2, row))
            except (ServerError, KeyError, ValueError) as error:
                self.errors.append(str(error))
            self._stop.wait(max(0.0, POLL_PERIOD_S - (time.monotonic() - before)))

    def _watch(self):
        while not self._stop.is_set():
            now = time.monotonic()
            for w in self.worlds:
                w.scan_log(now)
            self._stop.wait(WATCH_PERIOD_S)

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)

    def ke_times(self):
        """One time per NTS-KE seen: the middle between the two polls that saw the counter
        of its server go up."""
        times = []
        for (t0, row0), (t1, row1) in zip(self.samples, self.samples[1:]):
            for (ke0, _, _), (ke1, _, _) in zip(row0, row1):
                times += [(t0 + t1) / 2] * max(0, ke1 - ke0)
        return times


def wait_until(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def stop_agents(worlds, timeout):
    """SIGTERM to every agent at once, then a bounded wait for all; SIGKILL for the rest.
    Returns {index: exit status} (None for one that had to be killed)."""
    for w in worlds:
        if w.agent is not None and w.agent.poll() is None:
            os.kill(w.agent.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes = {}
    for w in worlds:
        if w.agent is None:
            continue
        try:
            codes[w.index] = w.agent.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            codes[w.index] = None
            w.stop_agent(sig_kill=True)
        w.agent = None
    return codes


def histogram(times, origin, width=0.5):
    """Text bars of 0.5 s bins; a run of empty bins (valgrind's start-up, the wait for a
    retry) is one line."""
    if not times:
        return ["(no key exchange)"]
    bins = int((max(times) - origin) // width) + 1
    counts = [0] * bins
    for t in times:
        counts[min(bins - 1, int((t - origin) // width))] += 1
    lines, empty_from = [], None
    for i, n in enumerate(counts):
        if n == 0:
            empty_from = i if empty_from is None else empty_from
            continue
        if empty_from is not None and (lines or empty_from < i - 1):
            lines.append("%5.1f-%4.1f s    0" % (empty_from * width, i * width))
        empty_from = None
        lines.append("%5.1f-%4.1f s %4d %s" % (i * width, (i + 1) * width, n, "#" * (n // 2)))
    return lines


def busiest_second(times):
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] < t - 1.0:
            j += 1
        best = max(best, i - j + 1)
    return best


def diag(text):
    for line in str(text).splitlines():
        print("# " + line)
    sys.stdout.flush()


def totals(row):
    return [r[0] for r in row], [r[1] for r in row], [r[2] for r in row]


def state_files_saved(w):
    names = os.listdir(w.path("agent-state"))
    return "agent.json" in names and len([n for n in names if n.startswith("source-")]) == SOURCES


def synchronized_count(worlds, timeout):
    """How many agents read State "synchronized" within the timeout (one busctl per bus)."""
    pending = list(worlds)

    def check():
        for w in list(pending):
            r = w.busctl("get-property", AGENT_NAME, AGENT_PATH, AGENT_NAME, "State", timeout=5)
            if r.returncode == 0 and '"synchronized"' in r.stdout:
                pending.remove(w)
        return not pending

    wait_until(check, timeout, interval=0.5)
    return len(worlds) - len(pending)


def start_all(worlds):
    """Every agent spawned as fast as Popen goes; returns when that began and how long it
    took."""
    began = time.monotonic()
    for w in worlds:
        w.start_agent()
    return began, time.monotonic() - began


def wait_decided(tap, label, worlds):
    decided = wait_until(lambda: all(DECIDED in w.events for w in worlds), DECIDE_TIMEOUT_S)
    undecided = [w for w in worlds if DECIDED not in w.events]
    tap.ok(decided, "%s: every agent made a decision" % label,
           "undecided: %s\n%s" % ([w.index for w in undecided],
                                   undecided[0].agent_log_tail() if undecided else ""))


def stop_checked(tap, label, worlds):
    codes = stop_agents(worlds, STOP_TIMEOUT_S)
    bad = {i: c for i, c in codes.items() if c != 0}
    tap.ok(not bad, "%s: all %d stopped with SIGTERM, exit 0" % (label, len(worlds)), bad)


def check_spread(tap, label, worlds, ke_times, t0, check_timing):
    """The histogram, and the NTS-KE times against the agents' start times."""
    starts = sorted(w.events[STARTED] for w in worlds if STARTED in w.events)
    diag("%s: NTS-KE at the servers, time since the first spawn (0.5 s bins, %d in all):"
         % (label, len(ke_times)))
    diag("\n".join(histogram(ke_times, t0)))
    if not ke_times or not starts:
        tap.ok(False, "%s: key exchanges and agent starts seen" % label)
        return
    spread = max(ke_times) - min(ke_times)
    mean_delay = statistics.mean(ke_times) - statistics.mean(starts)
    busiest = busiest_second(ke_times)
    decisions = sorted(w.events[DECIDED] - w.events[STARTED] for w in worlds
                       if DECIDED in w.events and STARTED in w.events)
    diag("agents started (bus name owned) from %.2f s to %.2f s; NTS-KE from %.2f s to %.2f s "
         "(spread %.2f s); mean delay after the agent's start %.2f s; busiest 1 s window %d "
         "of %d (%.0f %%); first decision a median %.2f s after start, max %.2f s"
         % (starts[0] - t0, starts[-1] - t0, min(ke_times) - t0, max(ke_times) - t0, spread,
            mean_delay, busiest, len(ke_times), 100.0 * busiest / len(ke_times),
            statistics.median(decisions) if decisions else -1,
            decisions[-1] if decisions else -1))
    if not check_timing:
        return
    tap.ok(spread >= 3.5, "%s: key exchanges spread over %.2f s (>= 3.5 s)" % (label, spread))
    # Start times come from the log watcher (50 ms), exchanges from serverstats polls
    # (125 ms): a little slack on both sides.
    first = min(ke_times) - starts[0]
    late = max(ke_times) - starts[-1]
    tap.ok(first >= -0.5 and late <= JITTER_S + 1.5,
           "%s: all within the window: the first %.2f s after the first agent's start, the "
           "last %.2f s after the last one's (<= %.1f s)" % (label, first, late, JITTER_S + 1.5))
    tap.ok(1.5 <= mean_delay <= 3.75, "%s: on average %.2f s after their agent started "
           "(uniform 0-5 s: 2.5 s)" % (label, mean_delay))
    tap.ok(busiest <= 0.35 * len(ke_times), "%s: at most 35 %% in any 1 s (%d of %d)"
           % (label, busiest, len(ke_times)))


def first_start(tap, label, worlds, observer, check_timing):
    """No stored cookies: one NTS-KE per source each, spread by the start jitter."""
    n = len(worlds)
    base = observer.counts()
    t0, spawned = start_all(worlds)
    started = wait_until(lambda: all(STARTED in w.events or w.agent.poll() is not None
                                     for w in worlds), START_TIMEOUT_S)
    dead = [w for w in worlds if w.agent.poll() is not None]
    tap.ok(started and not dead, "%s: %d agents started at once (spawned in %.2f s)"
           % (label, n, spawned),
           "exited: %s\n%s" % ([w.index for w in dead], dead[0].agent_log_tail() if dead else ""))
    wait_decided(tap, label, worlds)
    failed = [name for w in worlds for name in w.ke_failures]
    if failed:
        # Under memcheck a process's first TLS handshake can outlast chrony's 2 s NTS-KE
        # session timeout. The agent tries again at its next poll: wait for every key.
        diag("%s: %d key exchanges failed (%s); waiting for the agents to try again"
             % (label, len(failed), ", ".join("%s: %d" % (name, failed.count(name))
                                               for name in sorted(set(failed)))))
        wait_until(lambda: all(state_files_saved(w) for w in worlds), RETRY_TIMEOUT_S, 1.0)
        failed = [name for w in worlds for name in w.ke_failures]
    expected = [n + failed.count(server.name) for server in observer.servers]
    # Key exchanges come before decisions; a moment more for any straggler to show.
    wait_until(lambda: sum(totals(observer.counts())[0]) - sum(totals(base)[0]) >= sum(expected),
               10)
    time.sleep(1.0)
    ke, ntp, dropped = [[a - b for a, b in zip(now, then)]
                        for now, then in zip(totals(observer.counts()), totals(base))]
    if check_timing:
        tap.ok(not failed, "%s: no key exchange failed" % label, failed)
    tap.ok(ke == expected, "%s: one NTS-KE per agent at every server, and one more for each "
           "failure the agents reported (%s, expected %s)" % (label, ke, expected))
    tap.ok(sum(ke) == n * SOURCES + len(failed), "%s: %d NTS-KE in all, %d x %d + %d failed"
           % (label, sum(ke), n, SOURCES, len(failed)))
    tap.ok(dropped == [0] * SOURCES, "%s: no NTS-KE connection dropped (%s)" % (label, dropped))
    tap.ok(sum(ntp) >= n * SOURCES, "%s: %d NTP packets (%s per server) for the first "
           "decisions" % (label, sum(ntp), ntp))
    check_spread(tap, label, worlds, [t for t in observer.ke_times() if t >= t0], t0,
                 check_timing)
    synced = synchronized_count(worlds, 60)
    tap.ok(synced == n, "%s: %d of %d agents synchronized" % (label, synced, n))
    rss = sorted(r for r in (w.rss_kb() for w in worlds) if r is not None)
    if rss:
        diag("%s: agent VmRSS median %d kB, max %d kB, min %d kB (%d agents%s)"
             % (label, statistics.median(rss), rss[-1], rss[0], len(rss),
                ", under the wrapper" if worlds[0].wrap and WRAPPER else ""))


def restart(tap, label, worlds, observer, check_timing):
    """Stored cookies: no NTS-KE at all, no jitter, NTP packets and decisions at once."""
    n = len(worlds)
    unsaved = [w.index for w in worlds if not state_files_saved(w)]
    tap.ok(not unsaved, "%s: every agent saved its keys and cookies (%d source files each)"
           % (label, SOURCES), unsaved)
    base = observer.counts()
    t1, spawned = start_all(worlds)
    label += ", restarted"
    wait_decided(tap, label, worlds)
    # Past any jitter a source without cookies would have had.
    time.sleep(max(0.0, t1 + JITTER_S + 2.0 - time.monotonic()))
    ke, ntp, _ = [[a - b for a, b in zip(now, then)]
                  for now, then in zip(totals(observer.counts()), totals(base))]
    tap.ok(ke == [0] * SOURCES, "%s: no NTS-KE at any server (%s)" % (label, ke))
    tap.ok(sum(ntp) >= n * SOURCES, "%s: %d NTP packets (%s per server), >= %d"
           % (label, sum(ntp), ntp, n * SOURCES))
    delays = sorted(w.events[DECIDED] - w.events.get(STARTED, t1) for w in worlds
                    if DECIDED in w.events)
    if delays:
        diag("%s (spawned in %.2f s): first decision a median %.2f s after start, max %.2f s"
             % (label, spawned, statistics.median(delays), delays[-1]))
    if check_timing and delays:
        # Sources with stored cookies start at once (clock-policy.md): jitter wrongly
        # applied would put the median near the last of four 0-5 s draws, ~4 s.
        tap.ok(statistics.median(delays) <= 1.5, "%s: no start jitter with stored cookies: "
               "first decision a median %.2f s after start (<= 1.5 s)"
               % (label, statistics.median(delays)))
    synced = synchronized_count(worlds, 60)
    tap.ok(synced == n, "%s: %d of %d agents synchronized" % (label, synced, n))


def run_group(tap, label, worlds, servers, check_timing):
    observer = Observer(servers, worlds).start()
    try:
        first_start(tap, label, worlds, observer, check_timing)
        stop_checked(tap, label, worlds)
        restart(tap, label, worlds, observer, check_timing)
        stop_checked(tap, label + ", restarted", worlds)
        ke, ntp, _ = totals(observer.counts())
        diag("%s: serverstats at the end: NTS-KE %s, NTP packets %s" % (label, ke, ntp))
    finally:
        observer.stop()
        if observer.errors:
            diag("serverstats errors: %s" % observer.errors[:3])


def main():
    tap = gt.Tap()
    ensure_users()
    work = gt.workdir("fleet")
    os.chmod(work, 0o755)
    servers, worlds, cleanup_errors = [], [], []
    began = time.monotonic()
    try:
        ca = make_ca(os.path.join(work, "ca"))
        servers = start_servers(SOURCES, ca=ca, parent_dir=work)
        config = gt.write_config(os.path.join(work, "gnomon.conf"), gt.chrony_sources(servers),
                                 TrustedCertificates=ca.ca_file,
                                 StartJitterSeconds=int(JITTER_S))
        for i in range(FLEET):
            worlds.append(FleetWorld(i, config, wrap=i < WRAPPED))
            worlds[-1].start()
        diag("%d worlds (bus, polkitd, helper service) ready in %.1f s"
             % (FLEET, time.monotonic() - began))
        if WRAPPED:
            diag("under GNOMON_TEST_WRAPPER: %d agents (and helpers) wrapped, run first as "
                 "their own group; the other %d plain" % (WRAPPED, FLEET - WRAPPED))
            run_group(tap, "wrapped", worlds[:WRAPPED], servers, check_timing=False)
        if FLEET > WRAPPED:
            run_group(tap, "fleet" if not WRAPPED else "plain", worlds[WRAPPED:], servers,
                      check_timing=True)
    finally:
        stop_agents(worlds, STOP_TIMEOUT_S)
        for w in worlds:
            try:
                w.stop()  # raises on the helper's own memcheck or ASan findings
            except Exception as error:  # keep cleaning up the others
                cleanup_errors.append("world %d: %s" % (w.index, error))
        stop_servers(servers)
        if not os.environ.get("GNOMON_KEEP_TEST_DIRS"):
            shutil.rmtree(work, ignore_errors=True)
        diag("total %.1f s" % (time.monotonic() - began))
    tap.ok(not cleanup_errors, "every world stopped clean, its helper's memory checks included",
           "\n".join(cleanup_errors))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
