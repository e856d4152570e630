#!/usr/bin/env python3
"""gnomonctl against a running agent (AgentWorld: private bus, polkitd, dry-run helper,
chrony NTS servers, the agent as user gnomon): every command for people and as JSON, as
root and as the test users; colour only on a terminal without NO_COLOR; German output;
exit codes and one-line messages for bad arguments (2), an absent agent (3) and an
unauthorized caller (4); a polkit text agent registered for gnomonctl on a terminal;
monitor following changes; approve-step from the boot-window step through a refused +2 h
step to the one approved step. The bash completion offers the commands and options."""
import fcntl
import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import termios
import time

import gnomon_test as gt
from agent_world import HELPER_NAME, HELPER_PATH, AgentWorld
from bus import NO_CLOCK_PRIVS, SETPRIV, TEST_ADMIN, TEST_USER, as_user, run_as, terminate

CTL = os.environ.get("GNOMONCTL", os.path.join(gt.BUILD_DIR, "agent", "ctl", "gnomonctl"))
# The build tree's po/ is laid out like LOCALEDIR (po/de/LC_MESSAGES/gnomon.mo).
LOCALEDIR = os.path.join(gt.BUILD_DIR, "po")
COMPLETION = os.path.join(os.path.dirname(os.path.dirname(gt.HERE)), "data", "completion",
                          "gnomonctl")
SEC = 1_000_000_000
TWO_HOURS = 7200 * SEC
ESC = "\033["
# Under valgrind (GNOMON_TEST_WRAPPER) the agent and gnomonctl run several times slower.
SLOW = 3 if os.environ.get("GNOMON_TEST_WRAPPER") else 1
# Exit codes (gnomonctl --help).
EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_NOT_AUTHORIZED = 2, 3, 4


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr

    def json(self):
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    def __str__(self):
        return "exit %s\nstdout: %s\nstderr: %s" % (self.returncode, self.stdout, self.stderr)


def ctl(world, *args, user=None, env=None, timeout=60):
    """gnomonctl ARGS on the world's bus, as root (without CAP_SYS_TIME) or as user."""
    environment = world.bus.env(env)
    argv = gt.wrapped([CTL] + list(args))
    if user is not None:
        r = run_as(user, argv, env=environment, timeout=timeout)
    else:
        r = subprocess.run([SETPRIV] + NO_CLOCK_PRIVS + argv, env=environment,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
    return Result(r.returncode, r.stdout, r.stderr)


def one_line_error(r, code):
    """Exit code as expected, nothing on stdout, one line on stderr naming gnomonctl."""
    lines = r.stderr.splitlines()
    return (r.returncode == code and r.stdout == "" and len(lines) == 1 and
            lines[0].startswith("gnomonctl: "))


def in_pty(argv, env, timeout=30 * SLOW):
    """Runs argv with a new terminal as its controlling terminal (stdin, stdout and stderr);
    returns (exit code, pid, output)."""
    master, slave = pty.openpty()

    def controlling_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            preexec_fn=controlling_terminal, close_fds=True)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: every writer has gone
                    break
                if not chunk:
                    break
                output += chunk
            elif proc.poll() is not None:
                break
    finally:
        terminate(proc)
        os.close(master)
    return proc.returncode, proc.pid, output.decode(errors="replace")


class Follower:
    """A background gnomonctl monitor; lines are read with a bounded wait."""

    def __init__(self, world, *args, user=None):
        argv = gt.wrapped([CTL, "monitor"] + list(args))
        argv = as_user(user, argv) if user else [SETPRIV] + NO_CLOCK_PRIVS + argv
        self.proc = subprocess.Popen(argv, env=world.bus.env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines = []
        self._buffer = b""

    def _read(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return False
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return False
        self._buffer += chunk
        *complete, self._buffer = self._buffer.split(b"\n")
        self.lines += [line.decode(errors="replace") for line in complete]
        return True

    def wait_for(self, predicate, timeout=30 * SLOW):
        """The first line (from the start) for which predicate is true, or None."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                if predicate(line):
                    return line
            seen = len(self.lines)
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.proc.poll() is not None):
                return None

    def stop(self):
        """SIGINT, as Ctrl+C would; returns the exit code (None: it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            terminate(self.proc)
            code = None
        while self._read(0):
            pass
        self.stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code

    def text(self):
        return "\n".join(self.lines)


def colons_aligned(text):
    positions = {line.index(":") for line in text.splitlines() if ":" in line}
    return len(positions) == 1


def steps(world):
    return [r for r in world.records() if r["method"] == "Step" and r["verdict"] == "accepted"]


def check_usage(tap):
    """No bus needed: --help, --version, bad command lines (exit 2)."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    for key in ("GNOMON_TEST_WRAPPER", "G_DEBUG", "G_SLICE"):
        if key in os.environ:
            env[key] = os.environ[key]

    def run(*args):
        r = subprocess.run(gt.wrapped([CTL] + list(args)), env=env, capture_output=True,
                           text=True, timeout=60, stdin=subprocess.DEVNULL)
        return Result(r.returncode, r.stdout, r.stderr)

    r = run("--help")
    tap.ok(r.returncode == 0 and all(word in r.stdout for word in
                                     ["status", "sources", "sync", "online", "offline",
                                      "approve-step", "monitor", "--json", "--tolerance",
                                      "--no-ask-password", "Exit status", "NO_COLOR"]),
           "--help lists the commands, options and exit codes", r)
    tap.ok(all(re.search(r"^\s+%d\s" % code, r.stdout, re.M) for code in range(6)),
           "--help documents exit codes 0 to 5", r)
    r = run("--version")
    tap.ok(r.returncode == 0 and re.fullmatch(r"gnomonctl \d+\.\d+\.\d+\n", r.stdout),
           "--version prints the project version", r)
    # Output that cannot be written is a failure, not success with nothing printed.
    for args in (["--version"], ["--help"]):
        with open("/dev/full", "w") as full:
            p = subprocess.run(gt.wrapped([CTL] + args), env=env, stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=60,
                               stdin=subprocess.DEVNULL)
        tap.ok(p.returncode == 1 and "cannot write to standard output" in p.stderr,
               "%s into a full disk (/dev/full): exit 1 and says so" % args[0], p.stderr)
    for args, what in [(["frobnicate"], "unknown command"), (["--frobnicate"], "unknown option"),
                       (["status", "extra"], "an extra argument"),
                       (["sync", "--json"], "--json with sync"),
                       (["status", "--tolerance", "3"], "--tolerance with status"),
                       (["approve-step", "--tolerance", "abc"], "--tolerance abc"),
                       (["approve-step", "--tolerance", "-1"], "--tolerance -1"),
                       (["approve-step", "--tolerance", "0"], "--tolerance 0")]:
        r = run(*args)
        tap.ok(one_line_error(r, EXIT_USAGE), "bad arguments (%s): exit 2, one line" % what, r)
    r = run("status")
    tap.ok(one_line_error(r, 1) and "system bus" in r.stderr,
           "no system bus at all: exit 1 naming the bus", r)


def check_completion(tap):
    def complete(*words):
        script = ('source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                  '_gnomonctl; printf "%s\\n" "${COMPREPLY[@]}"')
        r = subprocess.run(["bash", "--norc", "-c", script, "bash", COMPLETION] + list(words),
                           capture_output=True, text=True, timeout=10)
        return set(r.stdout.split())

    tap.ok(complete("gnomonctl", "") == {"status", "sources", "sync", "online", "offline",
                                         "approve-step", "monitor"},
           "bash completion: the commands")
    tap.ok(complete("gnomonctl", "s") == {"status", "sources", "sync"},
           "bash completion: commands by prefix")
    tap.ok("--tolerance" in complete("gnomonctl", "approve-step", "--"),
           "bash completion: approve-step offers --tolerance")
    tap.ok("--json" in complete("gnomonctl", "sources", "--j") and
           "--json" not in complete("gnomonctl", "sync", "--"),
           "bash completion: --json with read commands only")


def check_reads(tap, w):
    r = ctl(w)
    tap.ok(r.returncode == 0 and re.search(r"^\s*State: synchronized$", r.stdout, re.M),
           "gnomonctl (no command) shows the status", r)
    r = ctl(w, "status")
    lines = dict(re.findall(r"^\s*([^:]+): (.*)$", r.stdout, re.M))
    tap.ok(r.returncode == 0 and r.stderr == "", "status as root", r)
    tap.ok(lines.get("Synchronized") == "yes" and lines.get("State") == "synchronized" and
           lines.get("Online") == "yes" and lines.get("Agreeing sources") == "3 of 3 required",
           "status: Synchronized, State, Online, Agreeing sources", r)
    tap.ok(re.fullmatch(r"[+-]?\d+(\.\d)? (ns|µs|ms|s) \(± \d+(\.\d)? (ns|µs|ms|s)\)",
                        lines.get("Offset", "")),
           "status: Offset with units chosen to fit (%s)" % lines.get("Offset"))
    tap.ok(lines.get("Poll interval") in ("4 s", "8 s") and
           re.fullmatch(r"[+-]\d+\.\d{3} ppm", lines.get("Frequency", "")) and
           re.fullmatch(r"just now|\d+ s ago", lines.get("Last sync", "")) and
           "Local time" in lines, "status: poll interval, frequency, last sync in words", r)
    tap.ok("Pending step" not in lines, "status: no pending step line when there is none")
    tap.ok(colons_aligned(r.stdout), "status: labels right-aligned like timedatectl", r.stdout)
    tap.ok(ESC not in r.stdout, "status: no colour when stdout is not a terminal")

    r = ctl(w, "status", user=TEST_USER)
    tap.ok(r.returncode == 0 and "State: synchronized" in r.stdout,
           "status as %s (anyone may read)" % TEST_USER, r)

    r = ctl(w, "status", "--json")
    status = r.json()
    tap.ok(r.returncode == 0 and isinstance(status, dict), "status --json: one JSON object", r)
    status = status or {}
    keys = {"synchronized", "state", "offset_ns", "uncertainty_ns", "last_sync_usec",
            "poll_interval_usec", "frequency_ppm", "agreeing_sources", "min_agreeing_sources",
            "online", "sources", "pending_step_ns", "local_time_usec"}
    tap.ok(keys <= set(status), "status --json: every property (%s)" % sorted(status))
    tap.ok(status.get("synchronized") is True and status.get("state") == "synchronized" and
           status.get("agreeing_sources") == 3 and status.get("min_agreeing_sources") == 3 and
           status.get("poll_interval_usec") in (4_000_000, 8_000_000) and
           status.get("pending_step_ns") == 0
           and isinstance(status.get("offset_ns"), int), "status --json: the values", status)

    r = ctl(w, "sources")
    rows = r.stdout.splitlines()
    header = rows[0] if rows else ""
    columns = ["NAME", "OPERATOR", "ADDRESS", "STATUS", "OFFSET", "DELAY", "REACH", "COOKIES",
               "LAST ERROR"]
    tap.ok(r.returncode == 0 and re.fullmatch(r"\s*".join(columns), header.strip()),
           "sources: the header names every column", r)
    tap.ok(len(rows) == 4 and all(row.startswith("honest-") for row in rows[1:]),
           "sources: one row per source", r)
    start = header.find("STATUS")
    tap.ok(start > 0 and all(row[start:].startswith("selected") for row in rows[1:]),
           "sources: STATUS aligned under its header, every source selected", r.stdout)
    end = header.find("REACH") + len("REACH")
    tap.ok(all(re.fullmatch(r"\s*[0-7]{1,3}", row[end - 5:end]) for row in rows[1:]),
           "sources: REACH right-aligned, in octal", r.stdout)
    tap.ok(all(re.search(r"[+-]?\d+(\.\d)? (ns|µs|ms)\s+\d+(\.\d)? (ns|µs|ms)\s", row)
               for row in rows[1:]), "sources: OFFSET and DELAY with units", r.stdout)
    r = ctl(w, "sources", user=TEST_USER)
    tap.ok(r.returncode == 0 and len(r.stdout.splitlines()) == 4,
           "sources as %s" % TEST_USER, r)

    r = ctl(w, "sources", "--json")
    doc = r.json() or {}
    sources = doc.get("sources", [])
    tap.ok(r.returncode == 0 and list(doc) == ["sources"] and len(sources) == 3,
           "sources --json: one object with three sources", r)
    tap.ok(all({"name", "host", "address", "port", "operator", "status", "offset_ns",
                "delay_ns", "dispersion_ns", "stratum", "reach", "cookies", "last_error"}
               <= set(s) for s in sources) and
           all(s["status"] == "selected" and s["cookies"] == 8 for s in sources),
           "sources --json: every field, selected, full cookie jars", sources)
    busctl = {s["Name"]["data"]: s for s in w.prop("Sources")}
    tap.ok(all(s["name"] in busctl and busctl[s["name"]]["Port"]["data"] == s["port"]
               for s in sources), "sources --json agrees with the D-Bus property")


def check_colour(tap, w):
    env = w.bus.env({"TERM": "xterm"})
    code, _, out = in_pty(gt.wrapped([CTL, "status"]), env)
    tap.ok(code == 0 and ESC + "32msynchronized" + ESC + "0m" in out,
           "status on a terminal: State synchronized in green", out)
    code, _, out = in_pty(gt.wrapped([CTL, "sources"]), env)
    tap.ok(code == 0 and ESC + "32mselected" in out, "sources on a terminal: selected in green",
           out)
    code, _, out = in_pty(gt.wrapped([CTL, "status"]), w.bus.env({"TERM": "xterm",
                                                                   "NO_COLOR": "1"}))
    tap.ok(code == 0 and "synchronized" in out and ESC not in out,
           "NO_COLOR on a terminal: no colour", out)


def check_german(tap, w):
    catalogue = os.path.join(LOCALEDIR, "de", "LC_MESSAGES", "gnomon.mo")
    if not os.path.exists(catalogue):
        tap.ok(True, "# SKIP German: %s was not built" % catalogue)
        return
    # LANGUAGE picks the catalogue even in C.UTF-8 (glibc ignores it only in plain "C").
    env = {"GNOMON_LOCALEDIR": LOCALEDIR, "LANGUAGE": "de"}
    r = ctl(w, "status", env=env)
    tap.ok(r.returncode == 0 and re.search(r"^\s*Synchronisiert: ja$", r.stdout, re.M) and
           re.search(r"^\s*Übereinstimmende Quellen: 3 von 3 erforderlichen$", r.stdout, re.M)
           and colons_aligned(r.stdout), "LANGUAGE=de: status in German, still aligned", r)
    r = ctl(w, "sources", env=env)
    tap.ok(r.returncode == 0 and "BETREIBER" in r.stdout and "LETZTER FEHLER" in r.stdout,
           "LANGUAGE=de: sources headers in German", r)
    r = ctl(w, "frobnicate", env=env)
    tap.ok(one_line_error(r, EXIT_USAGE) and "unbekannter Befehl" in r.stderr,
           "LANGUAGE=de: errors in German", r)
    r = ctl(w, "offline", user=TEST_USER, env=env)
    tap.ok(one_line_error(r, EXIT_NOT_AUTHORIZED) and "offline geschaltet" in r.stderr,
           "LANGUAGE=de: not authorized, in German", r)

    available = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout.split()
    if not any(name.lower().replace("-", "") == "de_de.utf8" for name in available):
        tap.ok(True, "# SKIP de_DE.UTF-8 not generated")
        return
    r = ctl(w, "status", env={"GNOMON_LOCALEDIR": LOCALEDIR, "LANG": "de_DE.UTF-8"})
    tap.ok(r.returncode == 0 and re.search(r"^\s*Zustand: synchronized$", r.stdout, re.M) and
           re.search(r"± \d+,\d ", r.stdout), "LANG=de_DE.UTF-8: German, decimal comma", r)


def check_control(tap, w):
    r = ctl(w, "offline", user=TEST_USER)
    tap.ok(one_line_error(r, EXIT_NOT_AUTHORIZED) and "not authorized" in r.stderr,
           "offline as %s: exit 4, one line naming the cause" % TEST_USER, r)
    r = ctl(w, "offline", "--no-ask-password", user=TEST_USER)
    tap.ok(one_line_error(r, EXIT_NOT_AUTHORIZED),
           "offline --no-ask-password as %s: exit 4" % TEST_USER, r)
    tap.ok(w.prop("Online") is True, "the agent stayed online")

    # On a terminal gnomonctl starts a polkit text agent for itself and ends it after the
    # call. (polkitd only uses a --fallback agent inside a login session, and the harness
    # has no logind, so no password is asked here: the call is refused as above.)
    argv = as_user(TEST_USER, gt.wrapped([CTL, "offline"]))
    code, pid, out = in_pty(argv, w.bus.env(), timeout=60)
    log = w.polkitd.log_tail(20000)
    registered = re.search(r"Registered Authentication Agent for unix-process:%d:\d+ .*"
                           r"pkttyagent --notify-fd \d+ --fallback --process %d," % (pid, pid), log)
    unregistered = re.search(r"Unregistered Authentication Agent for unix-process:%d:" % pid, log)
    tap.ok(code == EXIT_NOT_AUTHORIZED and registered and unregistered,
           "on a terminal: pkttyagent registered for gnomonctl, then ended", out + log[-2000:])
    left = subprocess.run(["pgrep", "-f", "pkttyagent.*--process %d," % pid],
                          capture_output=True, text=True)
    tap.ok(left.returncode == 1, "no pkttyagent is left running", left.stdout)
    argv = as_user(TEST_USER, gt.wrapped([CTL, "offline", "--no-ask-password"]))
    code, pid, out = in_pty(argv, w.bus.env(), timeout=60)
    tap.ok(code == EXIT_NOT_AUTHORIZED and
           "unix-process:%d:" % pid not in w.polkitd.log_tail(20000),
           "--no-ask-password on a terminal: no polkit agent", out)

    r = ctl(w, "sync", user=TEST_USER)
    tap.ok(r.returncode == 0 and r.stdout == "" and r.stderr == "",
           "sync as %s (the test rules grant it): quiet success" % TEST_USER, r)
    r = ctl(w, "sync")
    tap.ok(r.returncode == 0, "sync as root", r)
    r = ctl(w, "approve-step")
    tap.ok(r.returncode == 0 and "Nothing to approve" in r.stdout,
           "approve-step without a pending step: nothing to approve, exit 0", r)


def check_monitor(tap, w):
    human = Follower(w)
    machine = Follower(w, "--json", user=TEST_USER)
    tap.ok(human.wait_for(lambda line: "Following gnomon-agent (State: synchronized" in line),
           "monitor: a first line with the state", human.text())
    first = machine.wait_for(lambda line: True)
    start = json.loads(first) if first else {}
    tap.ok(start.get("event") == "Properties" and
           start.get("properties", {}).get("state") == "synchronized",
           "monitor --json as %s: the properties first" % TEST_USER, first)

    r = ctl(w, "offline")
    tap.ok(r.returncode == 0 and r.stdout == "", "offline as root", r)
    tap.ok(human.wait_for(lambda line: re.fullmatch(r"\d\d:\d\d:\d\d Online: no", line)) and
           human.wait_for(lambda line: line.endswith(" State: offline")),
           "monitor: Online no, State offline, one line each", human.text())
    change = machine.wait_for(lambda line: '"online":false' in line)
    event = json.loads(change) if change else {}
    tap.ok(event.get("event") == "PropertiesChanged" and
           event.get("changed", {}).get("online") is False, "monitor --json: the change", change)
    tap.ok(w.prop("Online") is False and w.prop("State") == "offline",
           "the agent is offline")
    r = ctl(w, "online")
    tap.ok(r.returncode == 0 and human.wait_for(lambda line: line.endswith(" Online: yes")),
           "online as root; monitor sees it", human.text())
    tap.ok(w.wait_for(lambda: w.prop("State") == "synchronized", timeout=30 * SLOW),
           "synchronized again after online", w.agent_log_tail())
    return human, machine


def check_approve(tap, w, human):
    for server in w.servers:
        server.faketime = 7200
        server.restart()
    tap.ok(w.wait_for(lambda: w.prop("State") == "step-refused", timeout=40 * SLOW),
           "servers +2 h after the boot window: step refused", w.agent_log_tail())
    tap.ok(human.wait_for(lambda line: re.search(r"Step of \+2 h 0 min refused: ", line)),
           "monitor: the StepRefused signal", human.text())
    tap.ok(human.wait_for(lambda line: re.search(r"Pending step: \+2 h 0 min \(run "
                                                 r"\"gnomonctl approve-step\"\)", line)),
           "monitor: the pending step", human.text())
    r = ctl(w, "status")
    tap.ok(re.search(r"^\s*Pending step: \+2 h 0 min \(run \"gnomonctl approve-step\"\)$",
                     r.stdout, re.M) and re.search(r"^\s*State: step-refused$", r.stdout, re.M),
           "status: the pending step and how to approve it", r)
    pending = (ctl(w, "status", "--json").json() or {}).get("pending_step_ns", 0)
    tap.ok(abs(pending - TWO_HOURS) < SEC, "status --json: pending_step_ns (%d)" % pending)

    r = ctl(w, "approve-step", "--tolerance", "9000", "--no-ask-password", user=TEST_ADMIN)
    tap.ok(one_line_error(r, EXIT_USAGE) and "tolerance" in r.stderr,
           "approve-step with a tolerance as large as the step: exit 2", r)
    r = ctl(w, "approve-step", "--no-ask-password", user=TEST_USER)
    tap.ok(one_line_error(r, EXIT_NOT_AUTHORIZED) and "not authorized" in r.stderr,
           "approve-step as %s: exit 4" % TEST_USER, r)
    tap.ok(len(steps(w)) == 1, "no step after the refused approvals")
    r = ctl(w, "approve-step", "--no-ask-password", user=TEST_ADMIN)
    tap.ok(r.returncode == 0 and re.search(r"Approved a step of \+2 h 0 min \(± 5\.0 s\)",
                                           r.stdout) and r.stderr == "",
           "approve-step as %s: approved +2 h 0 min ± 5 s" % TEST_ADMIN, r)
    tap.ok(human.wait_for(lambda line: "Step of +2 h 0 min (± 5.0 s) approved" in line),
           "monitor: the helper's StepApproved", human.text())
    tap.ok(w.wait_for(lambda: len(steps(w)) == 2, timeout=30 * SLOW),
           "the approved step is made", w.agent_log_tail())
    made = steps(w)
    tap.ok(len(made) == 2 and abs(made[-1]["offset_ns"] - TWO_HOURS) < SEC,
           "it is the +2 h step")
    tap.ok(human.wait_for(lambda line: "Clock stepped by +2 h 0 min" in line),
           "monitor: the ClockStepped signal", human.text())
    tap.ok(w.wait_for(lambda: w.prop("PendingStep") == 0 and
                      w.prop("State") == "synchronized", timeout=30 * SLOW),
           "then synchronized, nothing pending", w.agent_log_tail())
    tap.ok(w.prop("Approval", HELPER_NAME, HELPER_PATH) == [0, 0, 0],
           "the helper used the approval up")


def check_absent(tap, w):
    w.stop_agent()
    follower = Follower(w)
    tap.ok(follower.wait_for(lambda line: "gnomon-agent is not running" in line),
           "monitor without the agent: says so and waits", follower.text())
    for args in (["status"], ["sources", "--json"], ["sync"], ["offline"], ["approve-step"]):
        r = ctl(w, *args)
        tap.ok(one_line_error(r, EXIT_NOT_RUNNING) and "gnomon-agent is not running" in r.stderr,
               "%s without the agent: exit 3, one line" % " ".join(args), r)
    r = ctl(w, "status", user=TEST_USER)
    tap.ok(one_line_error(r, EXIT_NOT_RUNNING), "status as %s without the agent: exit 3"
           % TEST_USER, r)
    w.start_agent()
    tap.ok(follower.wait_for(lambda line: line.endswith("gnomon-agent started")),
           "monitor: the agent started again", follower.text())
    code = follower.stop()
    tap.ok(code == 0 and follower.stderr == "", "monitor ends with exit 0 on SIGINT",
           "exit %s, stderr %s" % (code, follower.stderr))


def main():
    tap = gt.Tap()
    check_usage(tap)
    check_completion(tap)
    # 2 s behind: the boot window's step closes it, as on a real boot (test-agent-steps.py).
    with AgentWorld("gnomonctl", virtual_offset_ns=-2 * SEC) as w:
        ready = w.wait_for(lambda: len(steps(w)) == 1 and w.prop("State") == "synchronized",
                           timeout=40 * SLOW)
        tap.ok(ready, "the agent synchronized after the boot-window step", w.agent_log_tail())
        # After the step the agent measures afresh: wait for every source's new sample.
        tap.ok(w.wait_for(lambda: abs(w.prop("Offset")) < SEC // 10 and
                          all(s["Delay"]["data"] > 0 for s in w.prop("Sources")),
                          timeout=30 * SLOW),
               "every source measured again after the step", w.agent_log_tail())
        check_reads(tap, w)
        check_colour(tap, w)
        check_german(tap, w)
        check_control(tap, w)
        human, machine = check_monitor(tap, w)
        try:
            check_approve(tap, w, human)
        finally:
            codes = (human.stop(), machine.stop())
        tap.ok(codes == (0, 0) and human.stderr == "" and machine.stderr == "",
               "both monitors end with exit 0 on SIGINT",
               "%s %s %s" % (codes, human.stderr, machine.stderr))
        lines = [json.loads(line) for line in machine.lines if line.startswith("{")]
        tap.ok(len(lines) == len(machine.lines) and
               {"PropertiesChanged", "StepRefused", "StepApproved", "ClockStepped"} <=
               {event.get("event") for event in lines},
               "monitor --json: one JSON object per line, every kind of event",
               machine.text()[-3000:])
        check_absent(tap, w)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
