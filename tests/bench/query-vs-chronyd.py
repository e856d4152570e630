#!/usr/bin/env python3
"""Benchmark (not a test): `gnomon-agent --query` against `chronyd -Q` on the same four
chrony NTS servers on loopback, with the same CA file, alternating, N runs each.

Both do fresh key exchanges with all four servers every run (gnomon: no state directory;
chronyd: a fresh ntsdumpdir) and stop at their first decision. chronyd runs in its fastest
setting here (`iburst minpoll -6 maxpoll -6`, minsources 3); each server gets its own
loopback address because chronyd keeps one source per address. Both run under the
same no-clock setpriv; neither may change the clock. CPU time is wait4()'s rusage
(microseconds); peak RSS is what /usr/bin/time reports for the program it starts
(a child forked from Python would count Python's own pages from before its exec); wall
time is from start to exit, measured here.

Reports per tool: median and range of wall time to decision, CPU time (user + system) and
peak RSS, then checks the goals of the issue:
  gnomon median wall <= 150 ms and <= 0.5 x chronyd's; CPU and peak RSS <= chronyd's.
    tests/bench/query-vs-chronyd.py [--runs N] [--build-dir DIR] [--chrony-options "..."]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))

from chrony_client import FAST_OPTIONS, client_config  # noqa: E402
from chrony_server import (CHRONYD, NO_CLOCK_PRIVS, ensure_run_dir, loopback_addresses,  # noqa: E402
                           start_servers, stop_servers)
from testca import make_ca  # noqa: E402

CHRONY_RESULT = re.compile(r"System clock wrong by ([-+0-9.eE]+) seconds")


TIME = "/usr/bin/time"


def timed(argv, timeout=60):
    """Runs argv; returns (returncode, output, wall_s, cpu_s, peak_rss_kib)."""
    rss_file = tempfile.NamedTemporaryFile(prefix="gnomon-bench-rss-", delete=False)
    rss_file.close()
    argv = [TIME, "-f", "%M", "-o", rss_file.name] + list(argv)
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = started + timeout
    output = b""
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        chunk = proc.stdout.read() or b""
        output += chunk
        if pid != 0:
            break
        if time.monotonic() > deadline:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.0005)
    wall = time.monotonic() - started
    output += proc.stdout.read() or b""
    proc.stdout.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    with open(rss_file.name) as f:
        rss = int(f.read().split()[-1])
    os.unlink(rss_file.name)
    return (proc.returncode, output.decode(errors="replace"), wall,
            usage.ru_utime + usage.ru_stime, rss)


def chronyd_once(servers, ca_file, options, workdir):
    """One fresh `chronyd -Q` (new ntsdumpdir: key exchanges every run)."""
    run_dir = tempfile.mkdtemp(dir=workdir)
    conf = os.path.join(run_dir, "client.conf")
    with open(conf, "w") as f:
        f.write(client_config(servers, ca_file, run_dir, options=options, minsources=3))
    rc, out, wall, cpu, rss = timed(NO_CLOCK_PRIVS + [CHRONYD, "-Q", "-x", "-u", "root", "-t",
                                                       "30", "-f", conf])
    shutil.rmtree(run_dir, ignore_errors=True)
    ok = rc == 0 and CHRONY_RESULT.search(out) is not None
    return ok, out, wall, cpu, rss


def gnomon_config(path, servers, ca_file):
    lines = ["[Agent]", "TrustedCertificates=" + ca_file, "MinAgreeingSources=3"]
    for i, server in enumerate(servers):
        lines += ["", "[Source %s]" % server.name, "Host=%s" % server.host,
                  "Port=%d" % server.ke_port, "Operator=op%d" % i]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build"))
    parser.add_argument("--chrony-options", default=FAST_OPTIONS)
    opts = parser.parse_args()
    agent = os.path.join(opts.build_dir, "agent", "daemon", "gnomon-agent")
    ensure_run_dir()
    work = tempfile.mkdtemp(prefix="gnomon-bench-")
    servers = []
    results = {"gnomon": [], "chronyd": []}
    try:
        ca = make_ca(os.path.join(work, "ca"), extra_ip_addresses=loopback_addresses(4))
        servers = start_servers(4, ca=ca, distinct_addresses=True, parent_dir=work)
        config = os.path.join(work, "gnomon.conf")
        gnomon_config(config, servers, ca.ca_file)
        for run in range(opts.runs):
            rc, out, wall, cpu, rss = timed(NO_CLOCK_PRIVS + [agent, "--config", config,
                                                               "--query", "--json"])
            if rc != 0:
                print("gnomon run %d failed (exit %d): %s" % (run, rc, out))
                return 1
            results["gnomon"].append((wall, cpu, rss))
            ok, out, wall, cpu, rss = chronyd_once(servers, ca.ca_file, opts.chrony_options, work)
            if not ok:
                print("chronyd run %d failed: %s" % (run, out[-2000:]))
                return 1
            results["chronyd"].append((wall, cpu, rss))
    finally:
        stop_servers(servers)
        shutil.rmtree(work, ignore_errors=True)

    print("%d runs each, alternating; 4 chrony NTS servers on loopback; chronyd options: %s"
          % (opts.runs, opts.chrony_options))
    print("%-8s %28s %26s %26s" % ("tool", "wall ms (median, min-max)", "CPU ms (median, min-max)",
                                   "peak RSS KiB (median)"))
    med = {}
    for tool, rows in results.items():
        walls = [w * 1000 for w, _, _ in rows]
        cpus = [c * 1000 for _, c, _ in rows]
        rsss = [r for _, _, r in rows]
        med[tool] = (summary(walls)[0], summary(cpus)[0], summary(rsss)[0])
        w, c = summary(walls), summary(cpus)
        print("%-8s %10.1f (%6.1f-%7.1f) %10.2f (%5.2f-%5.2f) %18d" % (
            tool, w[0], w[1], w[2], c[0], c[1], c[2], summary(rsss)[0]))
    goals = [
        ("gnomon median wall <= 150 ms", med["gnomon"][0] <= 150),
        ("gnomon median wall <= 0.5 x chronyd's", med["gnomon"][0] <= 0.5 * med["chronyd"][0]),
        ("gnomon CPU <= chronyd's", med["gnomon"][1] <= med["chronyd"][1]),
        ("gnomon peak RSS <= chronyd's", med["gnomon"][2] <= med["chronyd"][2]),
    ]
    for name, met in goals:
        print("%-40s %s" % (name, "met" if met else "NOT MET"))
    return 0 if all(met for _, met in goals) else 1


if __name__ == "__main__":
    sys.exit(main())
