#!/usr/bin/env python3
"""gnomon-agent --query with --state-directory: keys and cookies persist, so a second query
makes no NTS-KE (counted at the chrony servers with serverstats); no stored cookie is ever
sent twice; a directory locked by a running agent means an in-memory jar, said on stderr;
a corrupt state file is reported, ignored and replaced."""
import base64
import fcntl
import glob
import json
import os
import shutil
import sys

import gnomon_test as gt
from chrony_server import start_servers, stop_servers
from testca import make_ca


def stored_cookies(state_dir):
    """source name -> list of cookies (bytes) in its state file."""
    result = {}
    for path in glob.glob(os.path.join(state_dir, "source-*.json")):
        with open(path) as f:
            data = json.load(f)
        name = os.path.basename(path)[len("source-"):-len(".json")]
        result[name] = [base64.b64decode(c) for c in data["cookies"]]
    return result


def ke_counts(servers):
    return [s.ke_connections() for s in servers]


def main():
    tap = gt.Tap()
    work = gt.workdir("cookies")
    servers = []
    try:
        ca = make_ca(os.path.join(work, "ca"))
        servers = start_servers(3, ca=ca, parent_dir=work)
        config = gt.write_config(os.path.join(work, "gnomon.conf"), gt.chrony_sources(servers),
                                 TrustedCertificates=ca.ca_file)
        state = os.path.join(work, "state")

        r1 = gt.query(config, "--state-directory", state)
        tap.ok(r1.returncode == 0, "first query: consensus", r1.diagnostics())
        tap.ok(ke_counts(servers) == [1, 1, 1], "first query: one NTS-KE per server (%s)"
               % ke_counts(servers))
        mode = os.stat(state).st_mode & 0o777
        tap.ok(mode == 0o700, "state directory is 0700 (%o)" % mode)
        files = glob.glob(os.path.join(state, "source-*.json"))
        tap.ok(len(files) == 3 and all(os.stat(f).st_mode & 0o777 == 0o600 for f in files),
               "one 0600 state file per source")
        before = stored_cookies(state)
        tap.ok(all(len(c) == 8 for c in before.values()),
               "the jar is full again after the first query (%s)"
               % {k: len(v) for k, v in before.items()})

        sent = set()
        for run in range(3):
            previous = stored_cookies(state)
            r = gt.query(config, "--state-directory", state)
            tap.ok(r.returncode == 0, "query %d with stored cookies: consensus" % (run + 2),
                   r.diagnostics())
            tap.ok(ke_counts(servers) == [1, 1, 1],
                   "query %d: no NTS-KE at any server (%s)" % (run + 2, ke_counts(servers)))
            tap.ok(r.json and all(s["key_exchanges"] == 0 for s in r.json["sources"]),
                   "query %d: the agent reports no key exchange" % (run + 2), r.diagnostics())
            after = stored_cookies(state)
            for name, cookies in previous.items():
                used = cookies[0]  # the oldest goes first
                tap.ok(used not in after.get(name, []) and used not in sent,
                       "query %d, %s: the cookie sent is gone from the store and was never "
                       "sent before" % (run + 2, name))
                sent.add(used)

        # A running agent holds the lock: --query must not touch its cookies.
        with open(os.path.join(state, "lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            previous = stored_cookies(state)
            r = gt.query(config, "--state-directory", state)
            fcntl.flock(lock, fcntl.LOCK_UN)
        tap.ok(r.returncode == 0 and "in-memory cookie jar" in r.stderr,
               "locked state directory: consensus, and stderr says in-memory", r.diagnostics())
        tap.ok(stored_cookies(state) == previous,
               "locked state directory: the stored cookies are untouched")
        tap.ok(ke_counts(servers) == [2, 2, 2],
               "locked state directory: fresh key exchanges instead (%s)" % ke_counts(servers))

        # A corrupt file: reported, ignored (a key exchange), replaced.
        victim = sorted(glob.glob(os.path.join(state, "source-*.json")))[0]
        with open(victim, "w") as f:
            f.write("{ this is not json")
        r = gt.query(config, "--state-directory", state)
        tap.ok(r.returncode == 0 and "ignoring stored keys" in r.stderr and
               os.path.basename(victim) in r.stderr,
               "corrupt state file: reported by name, consensus anyway", r.diagnostics())
        with open(victim) as f:
            tap.ok(json.load(f)["version"] == 1, "corrupt state file: rewritten")
        tap.ok(sorted(ke_counts(servers)) == [2, 2, 3],
               "corrupt state file: one key exchange, for that source only (%s)"
               % ke_counts(servers))
    finally:
        stop_servers(servers)
        shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
