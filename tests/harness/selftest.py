#!/usr/bin/env python3
"""Self-test of the real-NTS-server harness (TAP output, exit 0 or 1).

Makes a test CA, starts 3 honest chrony NTS servers and one liar (+30 s),
and checks them with Debian's own ``chronyd -Q`` as an NTS client (measure
only, under the no-clock setpriv, with ``-x``): a liar alone is seen 30 s
off, the four together give a ~0 offset (the liar is out-voted), NTS-KE and
NTP counters rose at every server, a restarted server keeps accepting the
cookies it issued, a port collision is retried, the ``nts-servers`` CLI works,
and everything started is gone afterwards.

Everything is bounded: each step has its own timeout and the whole run is
cut off by SIGALRM after ``OVERALL_LIMIT`` seconds.  Takes about 10 s.

    python3 tests/harness/selftest.py
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.realpath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, HERE)

import chrony_client  # noqa: E402
import chrony_server  # noqa: E402
import testca  # noqa: E402

OVERALL_LIMIT = 180  # seconds
FAST = chrony_client.FAST_OPTIONS
LIE = 30


class Tap:
    """Minimal TAP producer: ok/not ok lines, plan printed at the end."""

    def __init__(self) -> None:
        self.n = 0
        self.failed = 0

    def check(self, name: str, cond: bool, diag: str = "") -> bool:
        self.n += 1
        print("%s %d - %s" % ("ok" if cond else "not ok", self.n, name), flush=True)
        if not cond:
            self.failed += 1
            for line in (diag or "").strip().splitlines():
                print("# " + line, flush=True)
        return cond

    def run(self, name: str, fn) -> bool:
        """``fn()`` returns (cond, diag); an exception is a failure."""
        try:
            cond, diag = fn()
        except Exception:
            cond, diag = False, traceback.format_exc()
        return self.check(name, cond, diag)

    def finish(self) -> int:
        print("1..%d" % self.n, flush=True)
        return 1 if self.failed else 0


def _gone(pid: int) -> bool:
    """True if no process ``pid`` exists any more (or it is a zombie that
    is not ours, i.e. about to be reaped by init)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def _group_gone(pgid: int) -> bool:
    """True if no process is left in process group ``pgid`` (a server's
    chronyd and its NTS-KE helper share one, made by start_new_session)."""
    for stat in os.listdir("/proc"):
        if not stat.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % stat) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return False
    return True


def _overall_timeout(signum, frame):
    raise TimeoutError("self-test exceeded %d s" % OVERALL_LIMIT)


def main() -> int:
    signal.signal(signal.SIGALRM, _overall_timeout)
    signal.alarm(OVERALL_LIMIT)
    tap = Tap()
    work = tempfile.mkdtemp(prefix="gnomon-harness-selftest-")
    servers = []
    try:
        _run(tap, work, servers)
    except Exception:
        tap.check("self-test ran to the end", False, traceback.format_exc())
    finally:
        try:
            chrony_server.stop_servers(servers)
        except Exception:
            pass
        signal.alarm(0)
        shutil.rmtree(work, ignore_errors=True)
    return tap.finish()


def _run(tap: Tap, work: str, servers: list) -> None:
    # -- certificates ------------------------------------------------------
    n = 4
    ca = testca.make_ca(os.path.join(work, "ca"),
                        extra_ip_addresses=chrony_server.loopback_addresses(n))
    tap.check("test CA and localhost server certificate made",
              all(os.path.isfile(p) for p in
                  (ca.ca_file, ca.ca_key_file, ca.cert_file, ca.key_file)))
    verify = subprocess.run(
        ["certtool", "--verify", "--load-ca-certificate", ca.ca_file,
         "--infile", ca.cert_file], capture_output=True, text=True, timeout=30)
    tap.check("server certificate verifies against the CA",
              verify.returncode == 0 and "Verified" in verify.stdout,
              verify.stdout + verify.stderr)

    def window(cert):
        info = subprocess.run(["certtool", "-i", "--infile", cert],
                              capture_output=True, text=True, timeout=30).stdout
        return [l.strip() for l in info.splitlines() if "Not Before" in l or "Not After" in l]

    old = testca.make_ca(os.path.join(work, "ca-backdated"), validity="backdated",
                         extra_dns_names=["gnomon-host.test"])
    w = window(old.cert_file)
    tap.check("backdated certificate: 2000-01-01 to 2099-01-01, extra DNS name",
              any("2000" in l for l in w) and any("2099" in l for l in w)
              and "gnomon-host.test" in old.server.dns_names, "\n".join(w))
    fresh = testca.make_ca(os.path.join(work, "ca-fresh"), validity="fresh")
    tap.check("fresh certificate starts now",
              abs((fresh.server.not_before - testca._now()).total_seconds()) < 60,
              str(fresh.server.not_before))

    # -- servers -----------------------------------------------------------
    t0 = time.monotonic()
    servers += chrony_server.start_servers(3, [LIE], ca=ca, distinct_addresses=True,
                                           parent_dir=work)
    took = time.monotonic() - t0
    tap.check("3 honest + 1 liar servers started (%.2f s)" % took,
              len(servers) == 4 and all(s.running() for s in servers),
              repr(servers))
    tap.check("every server on its own ports",
              len({s.ke_port for s in servers} | {s.ntp_port for s in servers}) == 2 * n)
    stats0 = [s.serverstats() for s in servers]
    tap.check("serverstats readable, no NTS-KE yet",
              all(st.get("NTS-KE connections accepted") == 0 for st in stats0),
              repr(stats0))
    tap.check("liar runs with libfaketime FAKETIME=+30",
              servers[3].environment().get("FAKETIME") == "+30"
              and "libfaketime" in servers[3].environment().get("LD_PRELOAD", ""))

    # -- chronyd -Q against them -------------------------------------------
    r = chrony_client.measure(servers[3:], ca.ca_file, options=FAST, limit=20,
                              parent_dir=work)
    tap.check("chronyd -Q sees the liar alone %+d s off (got %s)" % (LIE, r.offset),
              r.offset is not None and abs(r.offset - LIE) < 1.0, r.output)
    r = chrony_client.measure(servers[:1], ca.ca_file, host="localhost", options=FAST,
                              limit=20, parent_dir=work)
    tap.check("chronyd -Q verifies the certificate by name 'localhost' (offset %s)"
              % r.offset, r.offset is not None and abs(r.offset) < 0.1, r.output)
    r = chrony_client.measure(servers[:1], ca.ca_file, host="::1", options=FAST,
                              limit=20, parent_dir=work)
    tap.check("chronyd -Q reaches a server over ::1 (offset %s)" % r.offset,
              r.offset is not None and abs(r.offset) < 0.1, r.output)
    # chronyd -Q stops at its first clock update, so the server it would
    # poll last may not have answered yet: repeat (bounded) until the liar
    # has answered in a run, so that run shows it out-voted.
    runs = []
    for _ in range(6):
        before = [s.serverstats() for s in servers]
        r = chrony_client.measure(servers, ca.ca_file, options=FAST, minsources=3,
                                  limit=30, parent_dir=work)
        after = [s.serverstats() for s in servers]
        ke = [a["NTS-KE connections accepted"] - b["NTS-KE connections accepted"]
              for a, b in zip(after, before)]
        ntp = [a["Authenticated NTP packets"] - b["Authenticated NTP packets"]
               for a, b in zip(after, before)]
        runs.append((r, ke, ntp))
        if r.offset is None or ntp[3] > 0:
            break
    tap.check("chronyd -Q with 3 honest + 1 liar (minsources 3) always reports an "
              "offset near 0 (%s)" % ", ".join("%s s in %.2f s" % (x.offset, x.elapsed)
                                               for x, _, _ in runs),
              all(x.returncode == 0 and x.offset is not None and abs(x.offset) < 0.1
                  for x, _, _ in runs), r.config + r.output)
    tap.check("... also in a run where the liar answered %s" % [n for _, _, n in runs],
              runs[-1][2][3] > 0 and runs[-1][0].ok)
    tap.check("NTS-KE count rose by one at every server in every run %s"
              % [k for _, k, _ in runs], all(k == [1] * n for _, k, _ in runs),
              repr(after))
    tap.check("authenticated NTP packets arrived at the honest servers",
              all(min(x[:3]) > 0 for _, _, x in runs))

    # -- restart keeps cookies valid -----------------------------------------
    state = os.path.join(work, "client-state")
    os.makedirs(state, mode=0o700)
    s0 = servers[0]
    r1 = chrony_client.measure([s0], ca.ca_file, options=FAST, limit=20,
                               state_dir=state, parent_dir=work)
    old_pid, old_ports = s0.pid, (s0.ke_port, s0.ntp_port)
    s0.restart()
    r2 = chrony_client.measure([s0], ca.ca_file, options=FAST, limit=20,
                               state_dir=state, parent_dir=work)
    st = s0.serverstats()
    tap.check("restarted server (same ports, new pid) accepts cookies it issued "
              "before: no new NTS-KE",
              r1.ok and r2.ok and s0.pid != old_pid
              and (s0.ke_port, s0.ntp_port) == old_ports
              and st["NTS-KE connections accepted"] == 0
              and st["Authenticated NTP packets"] > 0,
              repr(st) + r2.output)

    # -- a port taken between picking and binding is retried ----------------
    udp_blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_blocker.bind(("127.0.0.1", 0))
    tcp_blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp_blocker.bind(("127.0.0.1", 0))
    tcp_blocker.listen()
    taken_ntp = udp_blocker.getsockname()[1]
    taken_ke = tcp_blocker.getsockname()[1]
    real_pick = chrony_server.pick_ports
    calls = []

    def rigged(ipv6, address="127.0.0.1"):
        ke, ntp, held = real_pick(ipv6, address)
        if len(calls) == 0:
            ntp = taken_ntp
        elif len(calls) == 1:
            ke = taken_ke
        calls.append((ke, ntp))
        return ke, ntp, held

    chrony_server.pick_ports = rigged
    try:
        with chrony_server.ChronyNtsServer(ca.cert_file, ca.key_file, name="retry",
                                           parent_dir=work) as srv:
            tap.check("taken NTP port, then taken NTS-KE port: retried with new "
                      "ports %s" % calls,
                      len(calls) == 3 and srv.ntp_port != taken_ntp
                      and srv.ke_port != taken_ke and srv.running())
    finally:
        chrony_server.pick_ports = real_pick
        udp_blocker.close()
        tcp_blocker.close()

    # -- the nts-servers CLI -------------------------------------------------
    cli_dir = os.path.join(work, "cli")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "nts-servers"),
                             "--dir", cli_dir, "--honest", "2", "--liar", "-30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else ""
        info = json.loads(line) if line else {}
        cli_servers = info.get("servers", [])
        tap.check("nts-servers prints one JSON line with 3 servers",
                  len(cli_servers) == 3 and os.path.isfile(info.get("ca_file", ""))
                  and [s["faketime"] for s in cli_servers] == [None, None, "-30"]
                  and all({"name", "host", "ke_port", "ntp_port", "pid"} <= set(s)
                          for s in cli_servers), line)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=20)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not all(_gone(s["pid"]) for s in cli_servers):
            time.sleep(0.05)
        tap.check("nts-servers stops its servers on SIGTERM (exit %s)" % rc,
                  rc == 0 and all(_gone(s["pid"]) for s in cli_servers),
                  proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)

    # -- cleanup -------------------------------------------------------------
    pids = [s.pid for s in servers]
    dirs = [s.directory for s in servers]
    chrony_server.stop_servers(servers)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not all(_group_gone(p) for p in pids):
        time.sleep(0.05)
    tap.check("stop() ended every server and its helpers, removed its directory",
              all(_gone(p) and _group_gone(p) for p in pids)
              and not any(os.path.exists(d) for d in dirs), repr(pids))
    servers.clear()


if __name__ == "__main__":
    sys.exit(main())
