"""A whole gnomon installation in miniature, for the running-agent tests: chrony NTS servers
on loopback, a private system bus with the project's bus policies, a real polkitd seeing the
project's actions and rules (plus test-only rules), gnomon-clock-helper activated on that
bus in its dry-run backend with a virtual clock, and gnomon-agent running as user gnomon.
Nothing here can change this machine's clock: the helper only records, every process runs
without CAP_SYS_TIME, and all traffic stays on loopback. Every wait is bounded."""
import glob
import json
import os
import shutil
import subprocess
import time

import gnomon_test as gt
from bus import PrivateBus, Polkitd, ensure_users, spawn_as, terminate
from chrony_server import NO_CLOCK_PRIVS, start_servers, stop_servers
from testca import make_ca

ROOT = os.path.dirname(os.path.dirname(gt.HERE))
HELPER = os.environ.get("GNOMON_HELPER", os.path.join(gt.BUILD_DIR, "agent", "helper",
                                                      "gnomon-clock-helper"))
POLICY = os.path.join(gt.BUILD_DIR, "policy", "org.gnomon.policy")
RULES = os.path.join(ROOT, "policy", "50-gnomon.rules")
BUS_POLICIES = [os.path.join(ROOT, "dbus", "org.gnomon.Agent1.conf"),
                os.path.join(ROOT, "dbus", "org.gnomon.ClockHelper1.conf")]

AGENT_NAME = "org.gnomon.Agent1"
AGENT_PATH = "/org/gnomon/Agent1"
HELPER_NAME = "org.gnomon.ClockHelper1"
HELPER_PATH = "/org/gnomon/ClockHelper1"

# Test-only polkit rules (never shipped): testing.md says there are no active sessions
# without logind, so an "active local user" is granted by a rule, and so is an admin group.
TEST_RULES = """
polkit.addRule(function(action, subject) {
    if (action.id == "org.gnomon.clock.approve-step" && subject.isInGroup("gnomon-test-admins"))
        return polkit.Result.YES;
    if (action.id == "org.gnomon.agent.sync" && subject.user == "gnomon-test-user")
        return polkit.Result.YES;
});
"""


def boottime_ns():
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


class AgentWorld:
    def __init__(self, name, honest=3, liars=(), virtual_offset_ns=0, agent_keys=None,
                 helper_limits=None, helper_idle_s=60, with_agent=True, helper_args=()):
        self.work = gt.workdir(name)
        os.chmod(self.work, 0o755)
        self.honest_count = honest
        self.liar_offsets = list(liars)
        self.virtual_offset_ns = virtual_offset_ns
        self.agent_keys = dict(agent_keys or {})
        self.helper_limits = dict(helper_limits or {})
        self.helper_idle_s = helper_idle_s
        self.helper_args = list(helper_args)
        self.with_agent = with_agent
        self.servers = []
        self.bus = None
        self.polkitd = None
        self.agent = None
        self.agent_log = os.path.join(self.work, "agent.log")

    # ---- paths ---------------------------------------------------------------------
    def path(self, *parts):
        return os.path.join(self.work, *parts)

    @property
    def virtual_clock(self):
        return self.path("clock", "virtual-clock.json")

    @property
    def record(self):
        return self.path("helper", "record.jsonl")

    # ---- set-up ---------------------------------------------------------------------
    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        ensure_users()
        self.ca = make_ca(self.path("ca"))
        self.servers = start_servers(self.honest_count, liars=self.liar_offsets, ca=self.ca,
                                     parent_dir=self.work)
        os.makedirs(self.path("clock"), mode=0o755)
        if self.virtual_offset_ns:
            self.write_virtual_clock(self.virtual_offset_ns)
        for d in ("helper", "helper/runtime", "helper/state", "helper/timesync", "services"):
            os.makedirs(self.path(d), mode=0o755, exist_ok=True)
        with open(self.path("helper", "clock-helper.conf"), "w") as f:
            f.write("[Limits]\n" + "".join("%s=%s\n" % kv for kv in self.helper_limits.items()))
        self.write_helper_service()
        self.bus = PrivateBus(self.path("bus"), policy_files=BUS_POLICIES,
                              service_dirs=[self.path("services")]).start()
        with open(self.path("test.rules"), "w") as f:
            f.write(TEST_RULES)
        self.polkitd = Polkitd(self.bus, actions=[POLICY],
                               rules=[RULES, self.path("test.rules")]).start()

        sources = gt.chrony_sources(self.servers)
        keys = {"TrustedCertificates": self.ca.ca_file, "PollMinSeconds": 4,
                "PollMaxSeconds": 8, "StartJitterSeconds": 0}
        keys.update(self.agent_keys)
        self.config = gt.write_config(self.path("gnomon.conf"), sources, **keys)
        os.makedirs(self.path("agent-state"), mode=0o700)
        shutil.chown(self.path("agent-state"), "gnomon", "gnomon")
        if self.with_agent:
            self.start_agent()

    def start_agent(self, wait=True):
        log = open(self.agent_log, "a")
        self.agent = spawn_as("gnomon", gt.wrapped([
            gt.AGENT, "--config", self.config, "--state-directory", self.path("agent-state"),
            "--virtual-clock", self.virtual_clock, "--verbose"]),
            env=self.bus.env({"G_MESSAGES_DEBUG": "all", **({"G_DBUS_DEBUG": os.environ["GNOMON_G_DBUS_DEBUG"]} if os.environ.get("GNOMON_G_DBUS_DEBUG") else {})}), stdout=log, stderr=log)
        log.close()
        if wait:
            self.bus.wait_for_name(AGENT_NAME, timeout=30)

    def stop_agent(self, sig_kill=False):
        if self.agent is not None:
            if sig_kill and self.agent.poll() is None:
                self.agent.kill()
                self.agent.wait(timeout=10)
            terminate(self.agent)
            code = self.agent.returncode
            self.agent = None
            return code
        return None

    # ---- the helper's own memory checks ------------------------------------------
    # dbus-daemon starts the helper, so nobody sees its exit status: under valgrind or ASan
    # its reports go to files in the world, and stop() fails the test on any of them.
    def write_helper_service(self, wrap=True):
        """The bus activation file that starts the dry-run helper of this world (under
        GNOMON_TEST_WRAPPER if wrap)."""
        helper_argv = self._helper_wrapper(wrap) + [
            HELPER, "--backend", "dry-run", "--config", self.path("helper", "clock-helper.conf"),
            "--record", self.record, "--virtual-clock", self.virtual_clock,
            "--runtime-directory", self.path("helper", "runtime"),
            "--state-directory", self.path("helper", "state"),
            "--timesync-directory", self.path("helper", "timesync"),
            "--idle-timeout", str(self.helper_idle_s)] + self.helper_args
        # dbus-daemon starts activated services itself (as root here): never with the
        # right to set the clock.
        exec_line = " ".join(["/usr/bin/setpriv"] + NO_CLOCK_PRIVS[1:] + helper_argv)
        with open(self.path("services", HELPER_NAME + ".service"), "w") as f:
            f.write("[D-BUS Service]\nName=%s\nExec=%s\nUser=root\n" % (HELPER_NAME, exec_line))

    def _helper_wrapper(self, wrap=True):
        wrapper = gt.wrapped([]) if wrap else []
        if wrapper and os.path.basename(wrapper[0]) == "valgrind":
            wrapper.append("--log-file=" + self.path("helper", "memcheck.%p.log"))
        if os.environ.get("ASAN_OPTIONS"):
            wrapper = ["/usr/bin/env", "ASAN_OPTIONS=%s:log_path=%s" % (
                os.environ["ASAN_OPTIONS"], self.path("helper", "asan"))] + wrapper
        return wrapper

    def stop_helper(self):
        """Ends the running helper as its unit would (SIGTERM), so its checks run at exit."""
        pid = self.bus.owner_pid(HELPER_NAME) if self.bus is not None else None
        if pid is None:
            return
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and os.path.exists("/proc/%d" % pid):
            time.sleep(0.1)

    def helper_findings(self):
        """The helper's memcheck and ASan reports that found something."""
        found = []
        for log in sorted(glob.glob(self.path("helper", "memcheck.*.log"))):
            with open(log, errors="replace") as f:
                text = f.read()
            # The wrapper runs memcheck --quiet: it writes only what it found (warnings
            # about itself aside).
            if any(line.strip() and "Warning:" not in line for line in text.splitlines()):
                found.append(log + ":\n" + text[-4000:])
        for log in sorted(glob.glob(self.path("helper", "asan.*"))):
            with open(log, errors="replace") as f:
                found.append(log + ":\n" + f.read()[-4000:])
        return found

    def stop(self):
        self.stop_agent()
        self.stop_helper()
        findings = self.helper_findings()
        if findings and not os.environ.get("GNOMON_KEEP_TEST_DIRS"):
            os.environ["GNOMON_KEEP_TEST_DIRS"] = "1"  # keep the reports to read
        if self.polkitd is not None:
            self.polkitd.stop()
        if self.bus is not None:
            self.bus.stop()
        stop_servers(self.servers)
        if not os.environ.get("GNOMON_KEEP_TEST_DIRS"):
            shutil.rmtree(self.work, ignore_errors=True)
        if findings:
            raise RuntimeError("the clock helper's memory checks found errors:\n" +
                               "\n".join(findings))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- the virtual clock and the helper's record --------------------------------
    def write_virtual_clock(self, offset_ns, frequency_ppm=0.0):
        tmp = self.virtual_clock + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"offset_ns": int(offset_ns), "frequency_ppm": frequency_ppm,
                       "since_boottime_ns": boottime_ns()}, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.virtual_clock)

    def read_virtual_clock(self):
        try:
            with open(self.virtual_clock) as f:
                return json.load(f)
        except FileNotFoundError:
            return {"offset_ns": 0, "frequency_ppm": 0.0}

    def records(self):
        try:
            with open(self.record) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    # ---- D-Bus ----------------------------------------------------------------------
    def busctl(self, *args, user=None, timeout=20):
        argv = ["busctl", "--address=" + self.bus.address, "--json=short"] + list(args)
        if user is not None:
            from bus import run_as
            return run_as(user, argv, env=self.bus.env(), timeout=timeout)
        return subprocess.run(["/usr/bin/setpriv"] + NO_CLOCK_PRIVS[1:] + argv, env=self.bus.env(),
                              capture_output=True, text=True, timeout=timeout)

    def prop(self, name, service=AGENT_NAME, path=AGENT_PATH, interface=None):
        r = self.busctl("get-property", service, path, interface or service, name)
        if r.returncode != 0:
            raise RuntimeError("get-property %s: %s" % (name, r.stderr.strip()))
        return json.loads(r.stdout)["data"]

    def call(self, method, *args, user=None, service=AGENT_NAME, path=AGENT_PATH,
             interface=None, signature=""):
        argv = ["call", service, path, interface or service, method]
        if signature:
            argv += [signature] + [str(a) for a in args]
        return self.busctl(*argv, user=user)

    def gdbus(self, method, *args, user=None, service=HELPER_NAME, path=HELPER_PATH):
        """A call through gdbus: returns (reply text, None) or (None, D-Bus error name and
        message). args are GVariant texts ("int64 5")."""
        from bus import CallError
        try:
            return self.bus.call(service, path, service + "." + method, *args, user=user), None
        except CallError as error:
            return None, str(error)

    def wait_for(self, predicate, timeout=60, interval=0.2):
        """Polls predicate() until it returns something true; returns it or None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = predicate()
            except (RuntimeError, ValueError, KeyError, OSError):
                value = None
            if value:
                return value
            if self.agent is not None and self.agent.poll() is not None:
                return None
            time.sleep(interval)
        return None

    def start_monitor(self, name=AGENT_NAME):
        """Records the signals of a bus name (gdbus monitor) until stop_monitor()."""
        out = open(self.path("monitor-%s.txt" % name), "w")
        self._monitor = subprocess.Popen(
            ["/usr/bin/setpriv"] + NO_CLOCK_PRIVS[1:] +
            ["gdbus", "monitor", "--address", self.bus.address, "--dest", name],
            stdout=out, stderr=subprocess.STDOUT, env=self.bus.env())
        out.close()
        time.sleep(0.5)  # gdbus subscribes before the first signal of interest

    def stop_monitor(self, name=AGENT_NAME):
        terminate(getattr(self, "_monitor", None))
        self._monitor = None
        with open(self.path("monitor-%s.txt" % name)) as f:
            return f.read()

    def agent_log_tail(self, limit=4000):
        try:
            with open(self.agent_log) as f:
                return f.read()[-limit:]
        except OSError:
            return ""
