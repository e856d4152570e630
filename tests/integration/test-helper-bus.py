#!/usr/bin/env python3
"""gnomon-clock-helper on a private system bus, driven with gdbus and busctl as root (root
passes polkit without asking; the helper's limits still apply), always with the dry-run
backend and without CAP_SYS_TIME: the limits of clock-policy.md with their D-Bus errors,
request IDs, approvals, the virtual clock, StepToFloor, properties and PropertiesChanged,
the record file, the per-boot record across restarts, idle exit, the "synchronized" file,
and a non-root caller refused when no polkitd runs. Callers refused by a real polkitd are
tested with tests/harness/bus.py elsewhere. Every wait is bounded; every process started
here is ended by its PID."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import gnomon_test as gt

HELPER = os.environ.get("GNOMON_CLOCK_HELPER",
                        os.path.join(gt.BUILD_DIR, "agent", "helper", "gnomon-clock-helper"))
SOURCE_ROOT = os.path.dirname(os.path.dirname(gt.HERE))
NAME = "org.gnomon.ClockHelper1"
PATH = "/org/gnomon/ClockHelper1"
IFACE = "org.gnomon.ClockHelper1"
NO_SYS_TIME = ["setpriv", "--bounding-set", "-sys_time", "--inh-caps", "-sys_time"]
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
SEC = 10**9
# valgrind makes everything slower.
SLOW = 10 if os.environ.get("GNOMON_TEST_WRAPPER") else 1
Y2001_NS = 978307200 * SEC
# Every helper and monitor started, so that a failing test still ends them (by PID).
STARTED = []


def boottime_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class Bus:
    """A private dbus-daemon with a system-bus-like configuration and the helper's policy."""

    def __init__(self, directory):
        self.directory = directory
        self.socket = os.path.join(directory, "bus")
        self.address = "unix:path=" + self.socket
        conf = os.path.join(directory, "bus.conf")
        with open(conf, "w") as f:
            f.write('<busconfig><type>system</type><listen>unix:path=%s</listen>'
                    '<auth>EXTERNAL</auth><policy context="default"><allow user="*"/>'
                    '<allow own="*"/><allow send_destination="*" eavesdrop="true"/>'
                    '<allow eavesdrop="true"/></policy><include>%s</include></busconfig>\n'
                    % (self.socket, os.path.join(SOURCE_ROOT, "dbus",
                                                 "org.gnomon.ClockHelper1.conf")))
        self.log = open(os.path.join(directory, "dbus-daemon.log"), "w")
        self.process = subprocess.Popen(
            NO_SYS_TIME + ["dbus-daemon", "--config-file=" + conf, "--nofork", "--print-address"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()  # printed once the socket listens
        if not line.startswith("unix:"):
            raise RuntimeError("dbus-daemon did not start (see %s)" % self.log.name)
        os.chmod(self.socket, 0o777)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process.stdout.close()
        self.log.close()


class Helper:
    def __init__(self, bus, directory, extra=(), name="helper", idle_timeout=0, config=None):
        self.bus = bus
        self.directory = directory
        self.record = os.path.join(directory, "record.jsonl")
        self.virtual_clock = os.path.join(directory, "virtual-clock.json")
        self.runtime = os.path.join(directory, "run")
        self.state = os.path.join(directory, "state")
        self.timesync = os.path.join(directory, "timesync")
        argv = [HELPER, "--backend", "dry-run", "--record", self.record,
                "--virtual-clock", self.virtual_clock, "--runtime-directory", self.runtime,
                "--state-directory", self.state, "--timesync-directory", self.timesync,
                "--idle-timeout", str(idle_timeout),
                "--config", config or os.path.join(SOURCE_ROOT, "data", "clock-helper.conf")]
        self.stderr_path = os.path.join(directory, name + ".stderr")
        self.stderr = open(self.stderr_path, "a")
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        env.pop("JOURNAL_STREAM", None)
        self.process = subprocess.Popen(NO_SYS_TIME + gt.wrapped(argv + list(extra)), env=env,
                                        stdout=subprocess.DEVNULL, stderr=self.stderr)
        STARTED.append(self)

    def wait_for_name(self, timeout=20):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            r = subprocess.run(["busctl", "--address=" + self.bus.address, "call",
                                "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                "org.freedesktop.DBus", "NameHasOwner", "s", NAME],
                               capture_output=True, text=True, timeout=10)
            if r.stdout.strip() == "b true":
                return True
            time.sleep(0.1)
        return False

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20 * SLOW)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not self.stderr.closed:
            self.stderr.close()
        return self.process.returncode

    def log(self):
        with open(self.stderr_path) as f:
            return f.read()

    def records(self):
        if not os.path.exists(self.record):
            return []
        with open(self.record) as f:
            return [json.loads(line) for line in f if line.strip()]

    def clock(self):
        with open(self.virtual_clock) as f:
            return json.load(f)


class Reply:
    def __init__(self, r):
        self.ok = r.returncode == 0
        self.stdout = r.stdout
        self.stderr = r.stderr
        m = re.search(r"GDBus\.Error:([\w.]+): (.*)", r.stderr)
        self.error = m.group(1) if m else None
        self.message = m.group(2) if m else r.stderr.strip()

    def __str__(self):
        return "ok" if self.ok else "%s: %s" % (self.error, self.message)


def call(bus, method, *args, user=None, interactive=False):
    argv = ["gdbus", "call", "--address", bus.address, "--dest", NAME, "--object-path", PATH,
            "--method", IFACE + "." + method]
    if interactive:
        argv.insert(2, "--interactive")
    if args:
        argv += ["--"] + [str(a) for a in args]
    if user is not None:
        argv = NOBODY + argv
    return Reply(subprocess.run(NO_SYS_TIME + argv, capture_output=True, text=True,
                                timeout=30 * SLOW))


def step(bus, offset_ns, request_id, age_ns=0, uncertainty_ns=1000):
    return call(bus, "Step", offset_ns, uncertainty_ns, boottime_ns() - age_ns, request_id)


def get(bus, prop):
    r = subprocess.run(["busctl", "--address=" + bus.address, "--json=short", "get-property",
                        NAME, PATH, IFACE, prop], capture_output=True, text=True,
                       timeout=30 * SLOW)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)["data"]


def limits(bus):
    data = get(bus, "Limits") or {}
    return {key: value["data"] for key, value in data.items()}


class Monitor:
    """gdbus monitor on the helper's name: signals, including PropertiesChanged."""

    def __init__(self, bus, directory):
        self.path = os.path.join(directory, "monitor.out")
        self.out = open(self.path, "w")
        self.process = subprocess.Popen(
            NO_SYS_TIME + ["gdbus", "monitor", "--address", bus.address, "--dest", NAME],
            stdout=self.out, stderr=subprocess.STDOUT)
        STARTED.append(self)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and "is owned by" not in self.text():
            time.sleep(0.05)

    def text(self):
        with open(self.path) as f:
            return f.read()

    def stop(self):
        time.sleep(0.5)  # signals already sent are still on their way
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if not self.out.closed:
            self.out.close()
        return self.text()


def wrapper_clean(tap, helper, what):
    """Under valgrind: the helper exited without findings."""
    if os.environ.get("GNOMON_TEST_WRAPPER"):
        tap.ok(helper.process.returncode != gt.WRAPPER_ERROR_EXIT, "%s: no valgrind findings"
               % what, helper.log())


def main_phase(tap, bus, work):
    """The limits and the API, one helper, the virtual clock starting 3 hours behind."""
    directory = os.path.join(work, "main")
    os.makedirs(directory)
    helper = Helper(bus, directory)
    with open(helper.virtual_clock, "w") as f:
        json.dump({"offset_ns": -3 * 3600 * SEC, "frequency_ppm": 0.0, "since_boottime_ns": 0}, f)
    if not tap.ok(helper.wait_for_name(), "the helper owns %s" % NAME, helper.log()):
        helper.stop()
        return None
    tap.ok(get(bus, "Backend") == "dry-run", "Backend is dry-run")
    tap.ok(get(bus, "InBootWindow") is True, "InBootWindow at start")
    tap.ok(get(bus, "StepsThisBoot") == 0, "StepsThisBoot 0 at start")
    tap.ok(get(bus, "LastRequest") == ["", ""], "LastRequest empty at start")
    tap.ok(get(bus, "Approval") == [0, 0, 0], "no Approval at start")
    lim = limits(bus)
    tap.ok(lim.get("MaxStepSeconds") == 1000 and lim.get("MaxSlewSeconds") == 0.5 and
           lim.get("MaxStepsPerHour") == 4 and lim.get("BuildDateUSec", 0) > 1.6e15,
           "Limits: the defaults of clock-policy.md and the build date", lim)
    intro = subprocess.run(["busctl", "--address=" + bus.address, "introspect", NAME, PATH,
                            IFACE], capture_output=True, text=True, timeout=30).stdout
    members = [".Slew", ".SetFrequency", ".Step", ".StepToFloor", ".ApproveStep", ".Backend",
               ".Limits", ".InBootWindow", ".StepsThisBoot", ".LastRequest", ".Approval",
               ".ClockChanged", ".StepApproved"]
    tap.ok(all(m in intro for m in members) and "xtts" in intro and "(xtt)" in intro,
           "introspection shows the API of interfaces.md", intro)

    monitor = Monitor(bus, directory)
    n_requests = 0
    # Boot window: the first forward step may be large (BootMaxStepSeconds=inf).
    r = step(bus, 3 * 3600 * SEC, "boot-step")
    n_requests += 1
    tap.ok(r.ok, "boot window: a forward step of 3 h is accepted", r)
    clock = helper.clock()
    tap.ok(clock["offset_ns"] == 0, "the virtual clock's offset_ns moved by the step", clock)
    tap.ok(get(bus, "InBootWindow") is False and get(bus, "StepsThisBoot") == 1,
           "the first accepted step closes the boot window")
    tap.ok(get(bus, "LastRequest") == ["boot-step", "accepted"], "LastRequest after the step")
    tap.ok(os.path.exists(os.path.join(helper.timesync, "synchronized")),
           "synchronized created after the first accepted change")

    # Slews: per call and per hour.
    r = call(bus, "Slew", SEC // 2, 5000)
    n_requests += 1
    tap.ok(r.ok, "a slew of exactly MaxSlewSeconds is accepted", r)
    r = call(bus, "Slew", SEC // 2 + 1, 5000)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.LimitExceeded" and "MaxSlewSeconds" in r.message,
           "a slew 1 ns over MaxSlewSeconds: LimitExceeded", r)
    r = call(bus, "Slew", -(SEC // 2), 5000)
    n_requests += 1
    tap.ok(r.ok, "a negative slew of MaxSlewSeconds is accepted", r)
    for _ in range(2):
        call(bus, "Slew", SEC // 2, 5000)
        n_requests += 1
    r = call(bus, "Slew", 1, 5000)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.RateLimited" and "MaxSlewPerHourSeconds" in r.message,
           "slews beyond MaxSlewPerHourSeconds: RateLimited", r)
    clock = helper.clock()
    tap.ok(clock["offset_ns"] == SEC, "each accepted slew added its whole offset", clock)

    # Frequency.
    before = boottime_ns()
    r = call(bus, "SetFrequency", 12.5)
    n_requests += 1
    tap.ok(r.ok, "SetFrequency 12.5 ppm accepted", r)
    clock = helper.clock()
    tap.ok(clock["frequency_ppm"] == 12.5 and clock["since_boottime_ns"] >= before
           and clock["offset_ns"] == SEC, "SetFrequency re-based the virtual clock", clock)
    r = call(bus, "SetFrequency", 500.001)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.LimitExceeded", "SetFrequency over 500 ppm refused", r)
    r = call(bus, "SetFrequency", "nan")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.InvalidArgument", "SetFrequency NaN: InvalidArgument", r)

    # Steps after the boot window.
    r = step(bus, 1001 * SEC, "too-large")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.LimitExceeded" and "MaxStepSeconds=1000" in r.message,
           "after the boot window a step over MaxStepSeconds: LimitExceeded", r)
    r = step(bus, 5 * SEC, "stale", age_ns=31 * SEC)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.Stale", "a measurement 31 s old: Stale", r)
    r = step(bus, 5 * SEC, "from-the-future", age_ns=-3600 * SEC)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.InvalidArgument", "a measurement from the future", r)
    r = step(bus, 5 * SEC, "bad id!")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.InvalidArgument", "a malformed request ID", r)
    r = step(bus, 0, "zero")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.InvalidArgument", "a step of 0", r)
    r = step(bus, -(2**63), "int64-min")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.InvalidArgument", "a step of INT64_MIN", r)

    # Idempotent request IDs.
    offset_before = helper.clock()["offset_ns"]
    first = step(bus, 2 * SEC, "repeat-1")
    again = step(bus, 7 * SEC, "repeat-1")
    n_requests += 2
    tap.ok(first.ok and again.ok, "a repeated request ID gets the same answer (accepted)",
           "%s / %s" % (first, again))
    moved = helper.clock()["offset_ns"] - offset_before
    tap.ok(moved == 2 * SEC, "... and the clock moved once", moved)
    first = step(bus, 5000 * SEC, "repeat-2")
    again = step(bus, SEC, "repeat-2")
    n_requests += 2
    tap.ok(first.error == again.error == "org.gnomon.Error.LimitExceeded",
           "a repeated refused request ID gets the same error", "%s / %s" % (first, again))
    tap.ok(get(bus, "LastRequest") == ["repeat-2", "refused"], "LastRequest names the last Step")
    tap.ok(get(bus, "StepsThisBoot") == 2, "StepsThisBoot counts accepted steps only")

    # An approval lets one larger step through.
    r = call(bus, "ApproveStep", 2000 * SEC, 2 * SEC, interactive=True)
    n_requests += 1
    tap.ok(r.ok, "ApproveStep accepted (root, no polkit needed)", r)
    approval = get(bus, "Approval")
    tap.ok(approval[0] == 2000 * SEC and approval[1] == 2 * SEC and
           approval[2] > boottime_ns() // 1000, "Approval shows offset, tolerance, expiry",
           approval)
    r = step(bus, 2003 * SEC, "approved-outside")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.LimitExceeded", "a step outside the tolerance: refused", r)
    r = step(bus, 2001 * SEC + 500000000, "approved-inside")
    n_requests += 1
    tap.ok(r.ok, "a step inside the approved tolerance: accepted", r)
    tap.ok(get(bus, "Approval") == [0, 0, 0], "the approval is used up")
    r = step(bus, 2000 * SEC, "approved-again")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.LimitExceeded", "the same step again: refused", r)
    r = call(bus, "ApproveStep", 5 * SEC, 5 * SEC)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.InvalidArgument", "ApproveStep with tolerance >= |offset|",
           r)

    # Steps per hour: boot-step, repeat-1 and approved-inside so far; the 4th is accepted.
    r = step(bus, SEC, "fourth")
    r5 = step(bus, SEC, "fifth")
    n_requests += 2
    tap.ok(r.ok and r5.error == "org.gnomon.Error.RateLimited" and
           "MaxStepsPerHour" in r5.message, "MaxStepsPerHour: the 5th step is RateLimited",
           "%s / %s" % (r, r5))

    # StepToFloor: the clock is not behind the build date.
    r = call(bus, "StepToFloor")
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.NotBehind", "StepToFloor when not behind: NotBehind", r)

    # A non-root caller with no polkitd: refused, the record names its uid.
    r = call(bus, "Slew", 1000, 1000, user=65534)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.NotAuthorized" and "polkit is unreachable" in r.message,
           "a non-root caller without polkitd: NotAuthorized, polkit unreachable", r)
    r = call(bus, "Step", SEC, 1000, boottime_ns(), "nobody-1", user=65534)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.NotAuthorized", "non-root Step: NotAuthorized", r)
    tap.ok(get(bus, "LastRequest") == ["fifth", "refused"],
           "an unauthorized Step changes no state")
    r = call(bus, "ApproveStep", 5000 * SEC, SEC, user=65534)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.NotAuthorized", "non-root ApproveStep: NotAuthorized", r)
    r = call(bus, "SetFrequency", 12.5, user=65534)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.NotAuthorized", "non-root SetFrequency: NotAuthorized", r)
    r = call(bus, "StepToFloor", user=65534)
    n_requests += 1
    tap.ok(r.error == "org.gnomon.Error.NotAuthorized", "non-root StepToFloor: NotAuthorized", r)
    r = subprocess.run(NO_SYS_TIME + NOBODY + ["busctl", "--address=" + bus.address,
                                               "get-property", NAME, PATH, IFACE, "Backend"],
                       capture_output=True, text=True, timeout=30 * SLOW)
    tap.ok(r.returncode == 0 and "dry-run" in r.stdout, "anyone may read properties", r.stderr)

    signals = monitor.stop()
    changed = [l for l in signals.splitlines() if "PropertiesChanged" in l]
    # One per Step call with a new valid request ID (LastRequest): boot-step, too-large,
    # stale, from-the-future, zero, int64-min, repeat-1, repeat-2, approved-outside,
    # approved-inside, approved-again, fourth, fifth; and one for the approval given (its
    # use shares approved-inside's). A malformed ID, repeats, slews, frequencies, other
    # refusals and unauthorized calls change nothing. (Limits changes when the floor moves,
    # which depends on the build date: not counted.)
    counted = [l for l in changed if "'LastRequest'" in l or "'Approval'" in l]
    other = [l for l in changed if l not in counted and "'Limits'" not in l]
    tap.ok(len(counted) == 14 and not other,
           "PropertiesChanged only on real changes (%d)" % len(counted), signals)
    tap.ok(any("'InBootWindow': <false>" in l and "'StepsThisBoot': <uint32 1>" in l
               for l in changed), "PropertiesChanged carries InBootWindow and StepsThisBoot",
           signals)
    tap.ok("ClockChanged ('step', int64 10800000000000)" in signals and
           "ClockChanged ('slew', int64 500000000)" in signals and
           "ClockChanged ('frequency', int64 0)" in signals,
           "ClockChanged for the step, the slews and the frequency", signals)
    tap.ok("StepApproved (int64 2000000000000, uint64 2000000000)" in signals,
           "StepApproved signal", signals)

    records = helper.records()
    tap.ok(len(records) == n_requests, "one record line per request (%d of %d)"
           % (len(records), n_requests))
    by_id = {}
    for rec in records:
        by_id.setdefault(rec.get("request_id"), []).append(rec)
    repeat = by_id.get("repeat-1", [])
    tap.ok(len(repeat) == 2 and repeat[0]["change_ns"] == 2 * SEC and repeat[1]["repeated"]
           and repeat[1]["change_ns"] == 0 and repeat[1]["timex"] == [],
           "the record shows one change for the repeated request ID", repeat)
    boot = (by_id.get("boot-step") or [{}])[0]
    timex = boot.get("timex", [])
    tap.ok(len(timex) == 2 and timex[0]["modes_text"] == "ADJ_SETOFFSET|ADJ_NANO" and
           timex[0]["time_sec"] == 10800 and timex[0]["time_usec"] == 0 and
           timex[1]["modes_text"] == "ADJ_MAXERROR|ADJ_ESTERROR|ADJ_STATUS" and
           timex[1]["maxerror"] == 1, "the record has the struct timex of the step", boot)
    tap.ok(boot.get("verdict") == "accepted" and boot.get("rule") == "step-boot-window" and
           boot.get("caller_uid") == 0, "record: verdict, rule, caller", boot)
    refused = [r for r in records if r["verdict"] == "refused"]
    tap.ok(all(r["error"].startswith("org.gnomon.Error.") and r["timex"] == [] for r in refused),
           "refused requests are recorded with their error and no change", refused)
    nobody = [r for r in records if r.get("caller_uid") == 65534]
    tap.ok(len(nobody) == 5 and all(r["rule"] == "not-authorized" for r in nobody),
           "unauthorized requests are recorded with the caller's uid", nobody)
    tap.ok("Step accepted" in helper.log() and "Slew refused" in helper.log(),
           "one log line per request (stderr without a journal)", helper.log())

    code = helper.stop()
    tap.ok(code == 0, "SIGTERM: exit 0", helper.log())
    wrapper_clean(tap, helper, "main")
    return directory


def restart_phase(tap, bus, directory):
    """The same directories again (as after an idle exit and re-activation): the boot
    record holds, then the helper exits by itself after --idle-timeout 2."""
    helper = Helper(bus, directory, name="helper-again", idle_timeout=2)
    if not tap.ok(helper.wait_for_name(), "restarted helper owns the name", helper.log()):
        helper.stop()
        return
    tap.ok(get(bus, "InBootWindow") is False and get(bus, "StepsThisBoot") == 4,
           "after a restart the boot window stays closed and the steps are counted")
    tap.ok(get(bus, "LastRequest") == ["fifth", "refused"], "LastRequest kept across restarts")
    offset_before = helper.clock()["offset_ns"]
    lines_before = len(helper.records())
    r = step(bus, 2 * SEC, "repeat-1")
    tap.ok(r.ok and helper.clock()["offset_ns"] == offset_before,
           "a request ID from before the restart gets its answer again, without a change", r)
    tap.ok(len(helper.records()) == lines_before + 1 and helper.records()[-1]["repeated"],
           "... recorded as a repeat")
    start = time.monotonic()
    try:
        code = helper.process.wait(timeout=30 * SLOW)
    except subprocess.TimeoutExpired:
        code = None
    waited = time.monotonic() - start
    tap.ok(code == 0 and waited < 15 * SLOW, "idle exit after --idle-timeout 2 (%.1f s)" % waited,
           helper.log())
    helper.stop()
    wrapper_clean(tap, helper, "restart")


def floor_phase(tap, bus, work):
    """The floor file, StepToFloor from 2001, and records from other boots."""
    directory = os.path.join(work, "floor")
    os.makedirs(os.path.join(directory, "state"))
    os.makedirs(os.path.join(directory, "run"))
    # The simulated clock runs a day ahead and the floor file is 100 s behind it, so the
    # build date (older) plays no part.
    day = 86400 * SEC
    floor = (time.time_ns() + day) // SEC - 100
    with open(os.path.join(directory, "state", "floor"), "w") as f:
        f.write("%d\n" % floor)
    with open(os.path.join(directory, "virtual-clock.json"), "w") as f:
        json.dump({"offset_ns": day, "frequency_ppm": 0.0, "since_boottime_ns": 0}, f)
    # A record from another boot that says the window is closed: discarded.
    with open(os.path.join(directory, "run", "boot.json"), "w") as f:
        json.dump({"boot_id": "00000000-0000-0000-0000-000000000000", "boot_window_open": False,
                   "steps_this_boot": 3, "steps": [], "slews": [], "requests": [],
                   "last_request": None, "approval": None, "floor_written_boottime_ns": None}, f)
    helper = Helper(bus, directory)
    if not tap.ok(helper.wait_for_name(), "floor: the helper owns the name", helper.log()):
        helper.stop()
        return
    tap.ok(get(bus, "InBootWindow") is True and get(bus, "StepsThisBoot") == 0 and
           "from another boot" in helper.log(), "a record from another boot is discarded",
           helper.log())
    tap.ok(limits(bus).get("FloorUSec") == floor * 10**6, "Limits FloorUSec is the floor file")
    r = step(bus, -200 * SEC, "before-floor")
    tap.ok(r.error == "org.gnomon.Error.BeforeFloor" and "floor" in r.message,
           "a step to before the floor: BeforeFloor", r)
    r = step(bus, -50 * SEC, "after-floor")
    tap.ok(r.ok, "a step back that stays after the floor: accepted", r)
    r = call(bus, "ApproveStep", -5000 * SEC, SEC)
    tap.ok(r.error == "org.gnomon.Error.BeforeFloor", "an approval crossing the floor: refused", r)
    helper.stop()
    wrapper_clean(tap, helper, "floor")

    # StepToFloor from 2001: forward to the build date; not a synchronisation.
    directory = os.path.join(work, "y2001")
    os.makedirs(directory)
    helper = Helper(bus, directory)
    with open(helper.virtual_clock, "w") as f:
        json.dump({"offset_ns": Y2001_NS - time.time_ns(), "frequency_ppm": 0.0,
                   "since_boottime_ns": 0}, f)
    if not tap.ok(helper.wait_for_name(), "y2001: the helper owns the name", helper.log()):
        helper.stop()
        return
    build_ns = limits(bus).get("BuildDateUSec", 0) * 1000
    r = step(bus, -SEC, "back-in-2001")
    tap.ok(r.error == "org.gnomon.Error.BeforeFloor", "in 2001 a step back: BeforeFloor", r)
    r = call(bus, "StepToFloor")
    tap.ok(r.ok, "StepToFloor with the clock in 2001: accepted", r)
    simulated = time.time_ns() + helper.clock()["offset_ns"]
    tap.ok(abs(simulated - build_ns) < 5 * SEC * SLOW,
           "the virtual clock now reads the build date", (simulated, build_ns))
    tap.ok(get(bus, "InBootWindow") is True and get(bus, "StepsThisBoot") == 0,
           "StepToFloor neither closes the boot window nor counts as a step")
    tap.ok(not os.path.exists(os.path.join(helper.timesync, "synchronized")),
           "StepToFloor does not claim synchronisation")
    rec = helper.records()[-1]
    tap.ok(rec["method"] == "StepToFloor" and rec["change_ns"] > 25 * 365 * 86400 * SEC and
           rec["timex"][0]["modes_text"] == "ADJ_SETOFFSET|ADJ_NANO" and len(rec["timex"]) == 1,
           "record: one ADJ_SETOFFSET forward, no sync status", rec)
    r = call(bus, "StepToFloor")
    tap.ok(r.error == "org.gnomon.Error.NotBehind", "a second StepToFloor: NotBehind", r)
    r = step(bus, 3 * 365 * 86400 * SEC, "boot-window-forward")
    tap.ok(r.ok, "the boot window's forward step is still available after StepToFloor", r)
    tap.ok(os.path.exists(os.path.join(helper.timesync, "synchronized")),
           "synchronized exists after the first step")
    helper.stop()
    wrapper_clean(tap, helper, "y2001")

    # A damaged record of this boot: discarded, and the boot window counts as closed.
    directory = os.path.join(work, "damaged")
    os.makedirs(os.path.join(directory, "run"))
    with open(os.path.join(directory, "run", "boot.json"), "w") as f:
        f.write("{not json")
    helper = Helper(bus, directory)
    if tap.ok(helper.wait_for_name(), "damaged: the helper owns the name", helper.log()):
        tap.ok(get(bus, "InBootWindow") is False and "damaged" in helper.log(),
               "a damaged boot record closes the boot window (fails closed)", helper.log())
    helper.stop()


def option_phase(tap, bus, work):
    """Options that must be refused before anything starts."""
    directory = os.path.join(work, "options")
    os.makedirs(directory)
    env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)

    def run(args):
        return subprocess.run(NO_SYS_TIME + gt.wrapped([HELPER] + args), capture_output=True,
                              text=True, timeout=60 * SLOW, env=env)

    vc = os.path.join(directory, "vc.json")
    r = run(["--virtual-clock", vc])
    tap.ok(r.returncode == 2 and "--virtual-clock" in r.stderr and "dry-run" in r.stderr,
           "--virtual-clock without --backend dry-run is refused", r.stderr)
    r = run(["--backend", "kernel", "--record", vc])
    tap.ok(r.returncode == 2 and "--record" in r.stderr, "--record with kernel is refused",
           r.stderr)
    r = run(["--backend", "dry-run"])
    tap.ok(r.returncode == 2 and "--runtime-directory" in r.stderr,
           "dry-run needs directories of its own", r.stderr)
    r = run(["--backend", "magic"])
    tap.ok(r.returncode == 2 and "magic" in r.stderr, "unknown backend refused", r.stderr)
    bad = os.path.join(directory, "bad.conf")
    with open(bad, "w") as f:
        f.write("[Limits]\nMaxStepSeconds=1000\nMaxSlewSecond=1\n")
    r = run(["--backend", "dry-run", "--config", bad, "--runtime-directory", directory,
             "--state-directory", directory])
    tap.ok(r.returncode == 2 and "%s:3:" % bad in r.stderr and "MaxSlewSecond" in r.stderr,
           "a bad limits file: exit 2 naming FILE:LINE and the key", r.stderr)
    r = run(["--version"])
    tap.ok(r.returncode == 0 and r.stdout.startswith("gnomon-clock-helper "), "--version",
           r.stdout + r.stderr)


def main():
    tap = gt.Tap()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (setpriv, a bus policy for root)")
        return 0
    work = gt.workdir("helper-bus")
    os.chmod(work, 0o755)
    bus = None
    try:
        bus = Bus(work)
        option_phase(tap, bus, work)
        directory = main_phase(tap, bus, work)
        if directory is not None:
            restart_phase(tap, bus, directory)
        floor_phase(tap, bus, work)
    finally:
        for started in STARTED:
            started.stop()
        if bus is not None:
            bus.stop()
        if tap.failed == 0:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("# files kept in %s" % work)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
