#!/usr/bin/env python3
"""The installation (interfaces.md, "Programs" and "Files"): `meson install --no-rebuild
--destdir` of GNOMON_BUILD_DIR puts every program, configuration file, bus and polkit file,
unit, sysusers.d and tmpfiles.d entry, timedated list, dispatcher hook and man page where
the build options say, with sane modes and matching names (unit ExecStart= and the D-Bus
activation file name the installed programs, the unit names and users agree), and
nothing installed is writable by others or set-uid. Then systemd-sysusers and
systemd-tmpfiles, each with --root on a scratch directory, create the gnomon user and the
state directories from the installed files. gnomonctl is checked when the build has it.
Nothing is installed outside a temporary directory."""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

import gnomon_test as gt
import install_tree

SOURCE_ROOT = os.path.dirname(os.path.dirname(gt.HERE))


def absolute(options, name):
    value = options[name]
    return value if value.startswith("/") else os.path.join(options["prefix"], value)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def key_values(text):
    """KEY=VALUE lines of a unit or activation file (last one wins)."""
    result = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z]+)=(.*)$", line)
        if match:
            result[match.group(1)] = match.group(2).strip()
    return result


class Checker:
    def __init__(self, tap, destdir):
        self.tap = tap
        self.destdir = destdir
        self.is_root = os.geteuid() == 0

    def path(self, installed):
        return install_tree.under(self.destdir, installed)

    def file(self, installed, mode, what):
        """installed: an absolute install path; mode: the permission bits wanted."""
        path = self.path(installed)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return self.tap.ok(False, "%s: %s is installed" % (what, installed))
        problems = []
        if not stat.S_ISREG(st.st_mode):
            problems.append("not a regular file")
        if stat.S_IMODE(st.st_mode) != mode:
            problems.append("mode %04o, not %04o" % (stat.S_IMODE(st.st_mode), mode))
        if self.is_root and st.st_uid != 0:
            problems.append("owned by uid %d" % st.st_uid)
        return self.tap.ok(not problems, "%s: %s, mode %04o" % (what, installed, mode),
                           "; ".join(problems))

    def program(self, installed, what, version_prefix):
        if not self.file(installed, 0o755, what):
            return
        result = subprocess.run(gt.wrapped([self.path(installed), "--version"]),
                                capture_output=True, text=True, timeout=60)
        self.tap.ok(result.returncode == 0 and result.stdout.startswith(version_prefix),
                    "%s --version runs from the installed tree" % what,
                    result.stdout + result.stderr)


def main():
    tap = gt.Tap()
    work = tempfile.mkdtemp(prefix="gnomon-install-")
    try:
        destdir = os.path.join(work, "dest")
        result = install_tree.install(destdir)
        if not tap.ok(result.returncode == 0, "meson install --no-rebuild --destdir",
                      install_tree.failure(result)):
            return tap.done()
        run_checks(tap, destdir, work)
    finally:
        if not os.environ.get("GNOMON_KEEP_TEST_DIRS"):
            shutil.rmtree(work, ignore_errors=True)
    return tap.done()


def run_checks(tap, destdir, work):
    options = install_tree.build_options()
    files = install_tree.installed_files()
    c = Checker(tap, destdir)
    prefix = options["prefix"]
    libexec = os.path.join(absolute(options, "libexecdir"), "gnomon")
    sysconf = os.path.join(absolute(options, "sysconfdir"), "gnomon")

    # Every file meson says it installs is there.
    missing = [dest for dest in files.values() if not os.path.lexists(c.path(dest))]
    tap.ok(not missing, "every file meson installs is in the tree (%d)" % len(files),
           "\n".join(missing))

    # Programs.
    agent = os.path.join(libexec, "gnomon-agent")
    helper = os.path.join(libexec, "gnomon-clock-helper")
    c.program(agent, "gnomon-agent", "gnomon-agent ")
    c.program(helper, "gnomon-clock-helper", "gnomon-clock-helper ")
    ctl = os.path.join(absolute(options, "bindir"), "gnomonctl")
    if ctl in files.values():
        c.program(ctl, "gnomonctl", "gnomonctl ")
    else:
        print("# gnomonctl is not part of this build: not checked")

    # Configuration: root's, readable by the agent (user gnomon), writable by root only.
    c.file(os.path.join(sysconf, "gnomon.conf"), 0o644, "default configuration")
    c.file(os.path.join(sysconf, "clock-helper.conf"), 0o644, "the helper's limits")
    tap.ok(read(c.path(os.path.join(sysconf, "gnomon.conf"))) ==
           read(os.path.join(SOURCE_ROOT, "data", "gnomon.conf")),
           "the installed gnomon.conf is data/gnomon.conf")

    # D-Bus: both bus policies and the helper's activation file.
    helper_policy = install_tree.install_path(files, "org.gnomon.ClockHelper1.conf")
    policy_dir = os.path.dirname(helper_policy) if helper_policy else os.path.join(
        prefix, options["datadir"], "dbus-1", "system.d")
    for name in ("org.gnomon.Agent1.conf", "org.gnomon.ClockHelper1.conf"):
        c.file(os.path.join(policy_dir, name), 0o644, "bus policy")
    activation = install_tree.install_path(files, "org.gnomon.ClockHelper1.service")
    if tap.ok(activation is not None, "the helper's D-Bus activation file is installed"):
        c.file(activation, 0o644, "D-Bus activation file")
        service = key_values(read(c.path(activation)))
        tap.ok(service.get("Name") == "org.gnomon.ClockHelper1" and
               service.get("Exec") == helper and
               service.get("SystemdService") == "gnomon-clock-helper.service",
               "activation file: Name, Exec= the installed helper, SystemdService=", service)

    # polkit.
    actions = install_tree.install_path(files, "org.gnomon.policy")
    rules = install_tree.install_path(files, "50-gnomon.rules")
    for path, what in ((actions, "polkit actions"), (rules, "polkit rules")):
        if tap.ok(path is not None, "%s installed" % what):
            c.file(path, 0o644, what)

    # systemd units, sysusers.d, tmpfiles.d.
    unit_paths = {}
    for name in ("gnomon.service", "gnomon-clock-helper.service"):
        path = install_tree.install_path(files, name)
        if tap.ok(path is not None, "%s installed" % name):
            c.file(path, 0o644, "unit")
            unit_paths[name] = path
    sysusers = files.get(os.path.join(SOURCE_ROOT, "data", "sysusers.d", "gnomon.conf"))
    tmpfiles = files.get(os.path.join(SOURCE_ROOT, "data", "tmpfiles.d", "gnomon.conf"))
    for path, what in ((sysusers, "sysusers.d entry"), (tmpfiles, "tmpfiles.d entry")):
        if tap.ok(path is not None, "%s installed" % what):
            c.file(path, 0o644, what)
    if "gnomon.service" in unit_paths:
        unit = key_values(read(c.path(unit_paths["gnomon.service"])))
        tap.ok(unit.get("ExecStart") == agent and unit.get("User") == "gnomon" and
               unit.get("Type") == "notify",
               "gnomon.service: Type=notify, User=gnomon, ExecStart= the installed agent", unit)
    if "gnomon-clock-helper.service" in unit_paths:
        unit = key_values(read(c.path(unit_paths["gnomon-clock-helper.service"])))
        tap.ok(unit.get("ExecStart") == helper and unit.get("Type") == "dbus" and
               unit.get("BusName") == "org.gnomon.ClockHelper1" and "User" not in unit,
               "gnomon-clock-helper.service: Type=dbus, BusName=, root, ExecStart= the "
               "installed helper", unit)
    if sysusers and tmpfiles:
        check_sysusers_tmpfiles(tap, c, sysusers, tmpfiles, work)

    # timedated's list: sorts before chrony's and timesyncd's.
    ntp_list = os.path.join(prefix, "lib", "systemd", "ntp-units.d", "40-gnomon.list")
    if c.file(ntp_list, 0o644, "ntp-units.d list"):
        names = [line.strip() for line in read(c.path(ntp_list)).splitlines()
                 if line.strip() and not line.lstrip().startswith("#")]
        tap.ok(names == ["gnomon.service"] and
               sorted([os.path.basename(ntp_list), "50-chrony.list",
                       "80-systemd-timesync.list"])[0] == "40-gnomon.list",
               "40-gnomon.list names gnomon.service alone", names)

    # Dispatcher hooks: executable, root's, not writable by group or others (both
    # dispatchers skip other scripts), not set-uid.
    for path in (os.path.join(prefix, "lib", "NetworkManager", "dispatcher.d", "50-gnomon"),
                 os.path.join(prefix, "lib", "networkd-dispatcher", "routable.d", "50-gnomon"),
                 os.path.join(prefix, "lib", "networkd-dispatcher", "off.d", "50-gnomon")):
        if c.file(path, 0o755, "dispatcher hook"):
            tap.ok(read(c.path(path)).startswith("#!/bin/sh\n"), "%s starts #!/bin/sh" % path)

    # Man pages.
    man_dir = absolute(options, "mandir")
    pages = ["man1/gnomonctl.1", "man5/gnomon.conf.5", "man5/clock-helper.conf.5",
             "man8/gnomon-agent.8", "man8/gnomon-clock-helper.8"]
    for page in pages:
        path = os.path.join(man_dir, page)
        if options["man"]:
            c.file(path, 0o644, "man page")
        else:
            tap.ok(not os.path.lexists(c.path(path)), "-Dman=false: no %s" % path)

    # Nothing writable by others, nothing set-uid or set-gid.
    bad = []
    for directory, _, names in os.walk(destdir):
        for name in names + ["."]:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_mode & (stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID):
                bad.append("%s %04o" % (path, stat.S_IMODE(st.st_mode)))
    tap.ok(not bad, "nothing installed is writable by others, set-uid or set-gid",
           "\n".join(bad))


def check_sysusers_tmpfiles(tap, c, sysusers, tmpfiles, work):
    sysusers_bin = shutil.which("systemd-sysusers")
    tmpfiles_bin = shutil.which("systemd-tmpfiles")
    if not (sysusers_bin and tmpfiles_bin and c.is_root):
        print("# systemd-sysusers/systemd-tmpfiles --root not run (need both and root)")
        return
    root = os.path.join(work, "root")
    os.makedirs(os.path.join(root, "etc"))
    result = subprocess.run([sysusers_bin, "--root=" + root, c.path(sysusers)],
                            capture_output=True, text=True, timeout=60)
    entry = None
    try:
        for line in read(os.path.join(root, "etc", "passwd")).splitlines():
            if line.startswith("gnomon:"):
                entry = line.split(":")
    except OSError:
        pass
    tap.ok(result.returncode == 0 and entry is not None and 0 < int(entry[2]) < 1000 and
           entry[6].endswith("nologin"),
           "systemd-sysusers --root: a system user gnomon without a login shell",
           result.stdout + result.stderr + repr(entry))
    if entry is None:
        return
    result = subprocess.run([tmpfiles_bin, "--root=" + root, "--create", c.path(tmpfiles)],
                            capture_output=True, text=True, timeout=60)
    tap.ok(result.returncode == 0, "systemd-tmpfiles --root --create", result.stderr)
    for path, uid, mode in (("var/lib/gnomon", int(entry[2]), 0o700),
                            ("var/lib/gnomon-clock-helper", 0, 0o700)):
        try:
            st = os.stat(os.path.join(root, path))
            got = (stat.S_ISDIR(st.st_mode), st.st_uid, stat.S_IMODE(st.st_mode))
        except OSError as error:
            got = str(error)
        tap.ok(got == (True, uid, mode), "/%s: directory, uid %d, mode %04o" % (path, uid, mode),
               got)


if __name__ == "__main__":
    sys.exit(main())
