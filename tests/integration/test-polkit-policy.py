#!/usr/bin/env python3
"""gnomon's polkit policy and rules under the real polkitd, on a private system bus
(tests/harness/bus.py): who may adjust and step the clock, approve a refused step, and use
the agent's methods (interfaces.md, "polkit actions"), and that a check fails when polkitd
is absent. Run as root: it creates the test users and a mount namespace for polkitd.

Without logind there are no sessions, so allow_active never applies here; the cases that
need "an active local user" use a test-only rules file (written below, never shipped)."""
import os
import pwd
import re
import shutil
import sys

import gnomon_test as gt

import bus as hb  # tests/harness/bus.py (gnomon_test puts tests/harness on sys.path)

SOURCE_DIR = os.path.dirname(os.path.dirname(gt.HERE))
POLICY = os.path.join(gt.BUILD_DIR, "policy", "org.gnomon.policy")
RULES = os.path.join(SOURCE_DIR, "policy", "50-gnomon.rules")

ADJUST = "org.gnomon.clock.adjust"
STEP = "org.gnomon.clock.step"
APPROVE = "org.gnomon.clock.approve-step"
SYNC = "org.gnomon.agent.sync"
SET_ONLINE = "org.gnomon.agent.set-online"
CONFIGURE = "org.gnomon.agent.configure"

# (any, inactive, active) defaults and the owner annotation, as interfaces.md has them.
EXPECTED_ACTIONS = {
    ADJUST: (("no", "no", "no"), None),
    STEP: (("no", "no", "no"), None),
    APPROVE: (("auth_admin", "auth_admin", "auth_admin"), None),
    SYNC: (("auth_admin", "auth_admin", "yes"), "unix-user:gnomon"),
    SET_ONLINE: (("auth_admin", "auth_admin", "auth_admin"), "unix-user:gnomon"),
    CONFIGURE: (("auth_admin_keep", "auth_admin_keep", "auth_admin_keep"), "unix-user:gnomon"),
}

# Test-only: an administrators' group may approve a step; a named user counts as "active
# local" for SyncNow (there is no logind here to say so).
TEST_RULES = """\
polkit.addRule(function(action, subject) {
    if (action.id == "org.gnomon.clock.approve-step" && subject.isInGroup("%s"))
        return polkit.Result.YES;
    if (action.id == "org.gnomon.agent.sync" && subject.user == "%s")
        return polkit.Result.YES;
});
""" % (hb.TEST_ADMINS_GROUP, hb.TEST_USER)

PK_RESULT = {0: "authorized", 1: "not authorized", 2: "authentication required",
             3: "dismissed", 127: "error"}


def pkcheck_is(tap, bus, user, action, want, groups="init"):
    r = hb.pkcheck(bus, user, action, groups=groups)
    who = user + (" (no supplementary groups)" if groups == "clear" else "")
    tap.ok(r.returncode == want, "pkcheck %s as %s: %s" % (action, who, PK_RESULT[want]),
           "exit %d (%s)\nstdout: %s\nstderr: %s" % (r.returncode, PK_RESULT.get(r.returncode),
                                                     r.stdout, r.stderr))


def check_is(tap, bus, caller, subject_user, subject_name, action, want):
    """CheckAuthorization for a system-bus-name subject, as the agent and helper do it.
    want: (authorized, challenge) or the name of the D-Bus error expected."""
    name = "CheckAuthorization %s by %s for %s's connection" % (action, caller or "root",
                                                               subject_user)
    try:
        got = hb.check_authorization(bus, caller, ("system-bus-name", subject_name), action)
    except hb.CallError as exc:
        got = exc.name
    if isinstance(want, tuple):
        name += ": %s" % ("authorized" if want[0] else
                          "challenge" if want[1] else "not authorized")
    else:
        name += ": error %s" % want
    tap.ok(got == want, name, "got %r" % (got,))


def parse_pkaction(text):
    """pkaction --verbose: {action: ((any, inactive, active), owner)}."""
    result = {}
    for block in re.split(r"\n(?=\S+:\n)", text.strip()):
        lines = block.splitlines()
        if not lines:
            continue
        action = lines[0].rstrip(":")
        fields = {}
        for line in lines[1:]:
            key, _, value = line.strip().partition(":")
            fields[key.strip()] = value.strip()
        implicit = (fields.get("implicit any"), fields.get("implicit inactive"),
                    fields.get("implicit active"))
        owner = None
        match = re.search(r"org\.freedesktop\.policykit\.owner -> (\S+)", block)
        if match:
            owner = match.group(1)
        result[action] = (implicit, owner)
    return result


def uid_of(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"^Uid:\s+(\d+)", f.read(), re.M).group(1))


def mountinfo(pid="self"):
    with open("/proc/%s/mountinfo" % pid) as f:
        return f.read()


def bus_connection(bus, user, procs):
    """A connection of ``user`` on the bus that stays open: gdbus waiting for a name that
    never comes. Returns its unique name."""
    proc = hb.spawn_as(user, [hb.GDBUS, "wait", "--system", "--timeout", "120",
                              "org.gnomon.test.NeverOwned"], env=bus.env())
    procs.append(proc)
    return bus.unique_name_of(proc.pid)


def phase_shipped(tap, bus):
    """The shipped policy and rules alone."""
    with hb.Polkitd(bus, actions=[POLICY], rules=[RULES]) as pk:
        log = pk.log_tail()
        tap.ok("executing 1 rules" in log and "rror" not in log,
               "polkitd loaded the shipped rules file without errors", log)
        tap.ok(uid_of(pk.pid) == pwd.getpwnam("polkitd").pw_uid,
               "polkitd dropped to user polkitd", "uid %d" % uid_of(pk.pid))
        tap.ok(pk.directory not in mountinfo() and pk.directory in mountinfo(pk.pid),
               "bind mounts only in polkitd's mount namespace")

        r = hb.run_as("root", ["pkaction", "--verbose"], env=bus.env())
        seen = parse_pkaction(r.stdout)
        tap.ok(set(seen) == set(EXPECTED_ACTIONS), "polkitd knows exactly gnomon's six actions",
               r.stdout + r.stderr)
        for action, expected in EXPECTED_ACTIONS.items():
            tap.ok(seen.get(action) == expected,
                   "%s: defaults %s, owner %s" % (action, "/".join(expected[0]), expected[1]),
                   "got %r" % (seen.get(action),))
        out = bus.call(hb.POLKIT_NAME, hb.POLKIT_PATH, hb.POLKIT_INTERFACE + ".EnumerateActions",
                       "'de_DE.UTF-8'")
        tap.ok("Abgelehnten Zeitsprung genehmigen" in out and
               "Systemuhr allmählich angleichen" in out,
               "German descriptions merged into the policy", out[:2000])

        # The helper's actions: only gnomon, never approve-step.
        pkcheck_is(tap, bus, hb.AGENT_USER, ADJUST, 0, groups="clear")
        pkcheck_is(tap, bus, hb.AGENT_USER, STEP, 0, groups="clear")
        pkcheck_is(tap, bus, hb.AGENT_USER, APPROVE, 2, groups="clear")
        pkcheck_is(tap, bus, hb.TEST_USER, ADJUST, 1)
        pkcheck_is(tap, bus, hb.TEST_USER, STEP, 1)
        pkcheck_is(tap, bus, hb.TEST_USER, APPROVE, 2)
        pkcheck_is(tap, bus, hb.TEST_ADMIN, ADJUST, 1)
        pkcheck_is(tap, bus, hb.TEST_ADMIN, APPROVE, 2)
        # No session (no logind): allow_active does not apply, SyncNow needs an admin.
        pkcheck_is(tap, bus, hb.TEST_USER, SYNC, 2)
        pkcheck_is(tap, bus, hb.TEST_USER, SET_ONLINE, 2)
        pkcheck_is(tap, bus, hb.TEST_USER, CONFIGURE, 2)

        # The helper (root) checks its D-Bus caller; the agent (gnomon) checks its callers,
        # which it may only do for the actions it owns.
        procs = []
        try:
            agent = bus_connection(bus, hb.AGENT_USER, procs)
            user = bus_connection(bus, hb.TEST_USER, procs)
            check_is(tap, bus, None, hb.AGENT_USER, agent, ADJUST, (True, False))
            check_is(tap, bus, None, hb.AGENT_USER, agent, STEP, (True, False))
            check_is(tap, bus, None, hb.AGENT_USER, agent, APPROVE, (False, True))
            check_is(tap, bus, None, hb.TEST_USER, user, ADJUST, (False, False))
            check_is(tap, bus, hb.AGENT_USER, hb.TEST_USER, user, SYNC, (False, True))
            check_is(tap, bus, hb.AGENT_USER, hb.TEST_USER, user, SET_ONLINE, (False, True))
            check_is(tap, bus, hb.AGENT_USER, hb.TEST_USER, user, CONFIGURE, (False, True))
            check_is(tap, bus, hb.AGENT_USER, hb.TEST_USER, user, ADJUST,
                     "org.freedesktop.PolicyKit1.Error.NotAuthorized")
            check_is(tap, bus, hb.TEST_USER, hb.AGENT_USER, agent, SYNC,
                     "org.freedesktop.PolicyKit1.Error.NotAuthorized")
        finally:
            for proc in procs:
                hb.terminate(proc)


def phase_test_rules(tap, bus, work):
    """The shipped rules plus test-only rules: an admin group and an "active" user."""
    test_rules = os.path.join(work, "90-gnomon-test.rules")
    with open(test_rules, "w") as f:
        f.write(TEST_RULES)
    with hb.Polkitd(bus, actions=[POLICY], rules=[RULES, test_rules]) as pk:
        log = pk.log_tail()
        tap.ok("executing 2 rules" in log and "rror" not in log,
               "polkitd loaded the shipped and the test-only rules", log)
        pkcheck_is(tap, bus, hb.TEST_ADMIN, APPROVE, 0)
        # Groups come from the user database, not from the subject process.
        pkcheck_is(tap, bus, hb.TEST_ADMIN, APPROVE, 0, groups="clear")
        pkcheck_is(tap, bus, hb.TEST_ADMIN, ADJUST, 1)
        pkcheck_is(tap, bus, hb.TEST_ADMIN, STEP, 1)
        pkcheck_is(tap, bus, hb.AGENT_USER, APPROVE, 2, groups="clear")
        pkcheck_is(tap, bus, hb.AGENT_USER, ADJUST, 0, groups="clear")
        pkcheck_is(tap, bus, hb.TEST_USER, APPROVE, 2)
        pkcheck_is(tap, bus, hb.TEST_USER, SYNC, 0)
        pkcheck_is(tap, bus, hb.TEST_USER, SET_ONLINE, 2)
        procs = []
        try:
            admin = bus_connection(bus, hb.TEST_ADMIN, procs)
            user = bus_connection(bus, hb.TEST_USER, procs)
            check_is(tap, bus, None, hb.TEST_ADMIN, admin, APPROVE, (True, False))
            check_is(tap, bus, hb.AGENT_USER, hb.TEST_USER, user, SYNC, (True, False))
        finally:
            for proc in procs:
                hb.terminate(proc)
        pid = pk.pid
    tap.ok(not os.path.exists("/proc/%d" % pid), "polkitd (PID %d) is gone after stop" % pid)


def phase_no_polkitd(tap, bus):
    """Without polkitd every check fails: the caller must fail closed."""
    tap.ok(not bus.name_has_owner(hb.POLKIT_NAME), "no polkitd on the bus")
    r = hb.pkcheck(bus, hb.AGENT_USER, ADJUST, groups="clear")
    tap.ok(r.returncode == 127, "pkcheck without polkitd: error, not authorized",
           "exit %d\n%s" % (r.returncode, r.stderr))
    try:
        got = hb.check_authorization(bus, None, ("unix-process", os.getpid()), ADJUST)
    except hb.CallError as exc:
        got = exc.name
    tap.ok(got == "org.freedesktop.DBus.Error.ServiceUnknown",
           "CheckAuthorization without polkitd fails (ServiceUnknown)", "got %r" % (got,))


BUS_POLICY = """\
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <policy context="default"><deny own="org.gnomon.test.Reserved"/></policy>
  <policy user="root"><allow own="org.gnomon.test.Reserved"/></policy>
</busconfig>
"""


def phase_bus_policy(tap, work):
    """The harness: an included bus policy file decides over the permissive default."""
    conf = os.path.join(work, "test-bus-policy.conf")
    with open(conf, "w") as f:
        f.write(BUS_POLICY)
    with hb.PrivateBus(policy_files=[conf]) as bus:
        args = ("org.freedesktop.DBus", "/org/freedesktop/DBus",
                "org.freedesktop.DBus.RequestName", "org.gnomon.test.Reserved", "uint32 0")
        try:
            got = bus.call(*args, user=hb.TEST_USER)
        except hb.CallError as exc:
            got = exc.name
        tap.ok(got == "org.freedesktop.DBus.Error.AccessDenied",
               "included bus policy: a plain user may not own a reserved name", got)
        got = bus.call(*args)
        tap.ok(got == "(uint32 1,)", "included bus policy: root may", got)


def main():
    tap = gt.Tap()
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (test users, mount namespace for polkitd)")
        return 0
    for program in (hb.DBUS_DAEMON, hb.POLKITD, hb.PKCHECK, hb.GDBUS):
        if not os.access(program, os.X_OK):
            print("1..0 # SKIP %s missing (Debian packages dbus, polkitd, pkexec)" % program)
            return 0
    if not tap.ok(os.path.isfile(POLICY), "merged policy exists in the build directory", POLICY):
        return tap.done()
    hb.ensure_users()
    work = gt.workdir("polkit")
    bus = None
    try:
        bus = hb.PrivateBus().start()
        st = os.stat(bus.socket_path)
        tap.ok(st.st_mode & 0o777 == 0o666, "bus socket open to every uid")
        out = bus.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                       "org.freedesktop.DBus.GetId", user=hb.TEST_USER)
        tap.ok(out.startswith("('"), "another uid can call on the bus", out)
        phase_bus_policy(tap, work)
        phase_shipped(tap, bus)
        phase_test_rules(tap, bus, work)
        phase_no_polkitd(tap, bus)
    finally:
        pid = bus.pid if bus else None
        if bus:
            bus.stop()
        if pid:
            tap.ok(not os.path.exists("/proc/%d" % pid), "dbus-daemon (PID %d) is gone" % pid)
        if not os.environ.get(hb.KEEP_ENV):
            shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
