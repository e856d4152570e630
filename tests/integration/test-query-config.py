#!/usr/bin/env python3
"""gnomon-agent with bad configurations: exit 2 and one clear line naming the cause, for
each kind of mistake (interfaces.md). Needs no server: loading fails first. And a report
that cannot be written is a failure (exit 1), not an answer."""
import os
import shutil
import socket
import subprocess
import sys

import gnomon_test as gt

GOOD_SOURCES = """
[Source a]
Host=a.example
Operator=A

[Source b]
Host=b.example
Operator=B

[Source c]
Host=c.example
Operator=C
"""

CASES = [
    # (name, config text or None for a missing file, words the one line must contain)
    ("missing file", None, ["cannot read", "No such file"]),
    ("syntax error", "[Agent\n" + GOOD_SOURCES, [":1:"]),
    ("unknown key", "[Agent]\nMinAgreeingSourcez=3\n" + GOOD_SOURCES,
     [":2:", "MinAgreeingSourcez"]),
    ("bad number", "[Agent]\nMinAgreeingSources=three\n" + GOOD_SOURCES,
     [":2:", "MinAgreeingSources", "three"]),
    ("duplicate group", GOOD_SOURCES + "\n[Source a]\nHost=d.example\nOperator=D\n",
     ["duplicate", "Source a"]),
    ("duplicate key", "[Agent]\nMinOperators=2\nMinOperators=1\n" + GOOD_SOURCES,
     ["duplicate", "MinOperators"]),
    ("duplicate source", GOOD_SOURCES + "\n[Source d]\nHost=a.example\nOperator=D\n",
     ["same host and port"]),
    ("no sources", "[Agent]\nMinOperators=1\n", ["no sources"]),
    ("quorum larger than sources", "[Agent]\nMinAgreeingSources=5\n" + GOOD_SOURCES,
     ["MinAgreeingSources", "5", "3"]),
]


def closed_ports(n):
    """n distinct loopback TCP ports nobody listens on (bound together, then released)."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def check_unwritable_report(tap, work):
    """Sources that refuse at once still give a report (no consensus, exit 3); written to
    /dev/full it is lost, and the exit code must say so."""
    sources = [{"name": n, "host": "127.0.0.1", "port": port, "operator": n}
               for n, port in zip("abc", closed_ports(3))]
    config = gt.write_config(os.path.join(work, "refused.conf"), sources)
    argv = gt.wrapped([gt.AGENT, "--config", config, "--query"])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    tap.ok(r.returncode == 3 and "No consensus" in r.stdout,
           "--query with every source refusing: a report, exit 3", r.stdout + r.stderr)
    with open("/dev/full", "w") as full:
        r = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    tap.ok(r.returncode == 1 and "cannot write the report" in r.stderr,
           "--query into a full disk (/dev/full): exit 1 and says so", r.stderr)


def main():
    tap = gt.Tap()
    work = gt.workdir("config")
    try:
        for name, text, words in CASES:
            path = os.path.join(work, name.replace(" ", "-") + ".conf")
            if text is not None:
                with open(path, "w") as f:
                    f.write(text)
            r = gt.run_agent(["--config", path, "--query"], timeout=60)
            lines = [l for l in r.stderr.splitlines() if l.strip()]
            tap.ok(r.returncode == 2, "%s: exit 2" % name, r.diagnostics())
            tap.ok(len(lines) == 1 and all(w in lines[0] for w in words),
                   "%s: one line naming the cause" % name, r.diagnostics())
            tap.ok(r.stdout == "", "%s: nothing on stdout" % name, r.diagnostics())
        r = gt.run_agent(["--version"])
        tap.ok(r.returncode == 0 and r.stdout.startswith("gnomon-agent "), "--version",
               r.diagnostics())
        check_unwritable_report(tap, work)
        r = gt.run_agent(["--no-such-option"])
        tap.ok(r.returncode == 2 and "--no-such-option" in r.stderr, "unknown option: exit 2",
               r.diagnostics())
        # The agent's messages are translated (German is the first translation).
        locales = subprocess.run(["locale", "-a"], capture_output=True, text=True).stdout
        if "de_de.utf8" in locales.lower().replace("-", ""):
            env = dict(os.environ, LANG="de_DE.UTF-8", LANGUAGE="",
                       GNOMON_LOCALEDIR=os.path.join(gt.BUILD_DIR, "po"))
            r = subprocess.run(gt.wrapped([gt.AGENT, "--no-such-option"]), env=env,
                               capture_output=True, text=True, timeout=60)
            tap.ok(r.returncode == 2 and "siehe --help" in r.stderr,
                   "LANG=de_DE.UTF-8: the error is German", r.stderr)
        else:
            print("ok %d - # SKIP de_DE.UTF-8 is not generated here" % (tap.count + 1))
            tap.count += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
