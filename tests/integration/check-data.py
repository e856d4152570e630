#!/usr/bin/env python3
"""Static checks of what data/ installs, on the files as `meson install --destdir` puts
them (TAP):
- `systemd-analyze verify` of gnomon.service and gnomon-clock-helper.service must print
  nothing. It runs with --root on a directory holding the installed tree, a copy of this
  machine's own system units (for sysinit.target, dbus.socket, ...) and of /bin/kill
  (ExecReload=), so that every ExecStart= is checked at its install path; MANPATH points
  at the installed man pages, so Documentation= is checked too.
- `systemd-analyze security --offline=true` (systemd >= 252): the overall exposure of
  gnomon.service must be at most 2.0 and that of gnomon-clock-helper.service at most 2.5;
  both numbers are printed, with every setting that still counts against them.
- the dispatcher hooks with `sh -n` and, where installed, shellcheck;
- the man pages with `groff -ww -z` (every warning is an error).
Nothing here starts a unit or touches this machine's clock, /etc or /run."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import gnomon_test as gt
import install_tree

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
THRESHOLDS = {"gnomon.service": 2.0, "gnomon-clock-helper.service": 2.5}
SYSTEM_UNIT_DIRS = ["/lib/systemd/system", "/usr/lib/systemd/system"]


def make_root(destdir, root):
    """root = this machine's system units + /bin/kill, with the installed tree on top."""
    copied = set()
    for unit_dir in SYSTEM_UNIT_DIRS:
        if os.path.isdir(unit_dir) and os.path.realpath(unit_dir) not in copied:
            copied.add(os.path.realpath(unit_dir))
            shutil.copytree(unit_dir, install_tree.under(root, unit_dir), symlinks=True,
                            dirs_exist_ok=True)
    os.makedirs(install_tree.under(root, "/bin"), exist_ok=True)
    shutil.copy2("/bin/kill", install_tree.under(root, "/bin/kill"))
    shutil.copytree(destdir, root, symlinks=True, dirs_exist_ok=True)


def analyze(args, env=None):
    return subprocess.run([SYSTEMD_ANALYZE, "--no-pager"] + args, capture_output=True,
                          text=True, timeout=120, env=env)


def check_units(tap, files, destdir, work):
    options = install_tree.build_options()
    root = os.path.join(work, "root")
    make_root(destdir, root)
    units = {}
    for name in THRESHOLDS:
        path = install_tree.install_path(files, name)
        tap.ok(path is not None, "%s is installed (%s)" % (name, path))
        if path is not None:
            units[name] = path

    env = dict(os.environ, LC_ALL="C.UTF-8")
    man_args = ["--man=no"]
    if options.get("man") and shutil.which("man"):
        man = install_tree.install_path(files, "gnomon-agent.8")
        env["MANPATH"] = install_tree.under(destdir, os.path.dirname(os.path.dirname(man)))
        man_args = ["--man=yes"]
    else:
        print("# Documentation= not checked: no man pages installed or no man program")
    for name, path in units.items():
        # A unit path inside the root: checked there, its ExecStart= at its install path.
        result = analyze(["verify", "--root=" + root] + man_args +
                         [install_tree.under(root, path)], env=env)
        output = (result.stdout + result.stderr).strip()
        tap.ok(result.returncode == 0 and output == "",
               "systemd-analyze verify %s: no complaints" % name,
               "exit %d\n%s" % (result.returncode, output))

        result = analyze(["security", "--offline=true", "--root=" + root,
                          install_tree.under(root, path)], env=env)
        output = result.stdout + result.stderr
        match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
        exposure = float(match.group(1)) if match else None
        print("# systemd-analyze security --offline=true --root=ROOT %s: %s" % (name, exposure))
        for line in output.splitlines():
            if line.startswith("\u2717"):  # a setting that still counts
                print("#   " + re.sub(r"\s+", " ", line).strip())
        tap.ok(exposure is not None and exposure <= THRESHOLDS[name],
               "%s: exposure %s <= %.1f" % (name, exposure, THRESHOLDS[name]), output[-3000:])


def check_scripts(tap, files, destdir):
    scripts = sorted({dest for dest in files.values() if "dispatcher" in dest})
    tap.ok(len(scripts) >= 2, "dispatcher hooks installed (%d)" % len(scripts))
    shellcheck = shutil.which("shellcheck")
    for dest in scripts:
        path = install_tree.under(destdir, dest)
        result = subprocess.run(["sh", "-n", path], capture_output=True, text=True, timeout=30)
        tap.ok(result.returncode == 0, "sh -n %s" % dest, result.stderr)
        if shellcheck:
            result = subprocess.run([shellcheck, "--shell=sh", path], capture_output=True,
                                    text=True, timeout=60)
            tap.ok(result.returncode == 0, "shellcheck %s" % dest, result.stdout)
    if not shellcheck:
        print("# shellcheck not installed: scripts only parsed with sh -n")


def check_man_pages(tap, files, destdir):
    pages = sorted(dest for dest in files.values() if re.search(r"/man[1-8]/[^/]+\.[1-8]$", dest))
    groff = shutil.which("groff")
    if not pages or not groff:
        print("# man pages not checked: %s" % ("none installed" if not pages else "no groff"))
        return
    for dest in pages:
        result = subprocess.run([groff, "-man", "-ww", "-z", install_tree.under(destdir, dest)],
                                capture_output=True, text=True, timeout=60,
                                env=dict(os.environ, LC_ALL="C.UTF-8"))
        tap.ok(result.returncode == 0 and not result.stderr.strip(),
               "groff -man -ww %s: no warnings" % dest, result.stderr)


def main():
    tap = gt.Tap()
    if SYSTEMD_ANALYZE is None:
        print("1..0 # SKIP systemd-analyze not installed (Debian package systemd)")
        return 0
    work = tempfile.mkdtemp(prefix="gnomon-check-data-")
    try:
        destdir = os.path.join(work, "dest")
        result = install_tree.install(destdir)
        if not tap.ok(result.returncode == 0, "meson install --no-rebuild --destdir",
                      install_tree.failure(result)):
            return tap.done()
        files = install_tree.installed_files()
        check_units(tap, files, destdir, work)
        check_scripts(tap, files, destdir)
        check_man_pages(tap, files, destdir)
    finally:
        if not os.environ.get("GNOMON_KEEP_TEST_DIRS"):
            shutil.rmtree(work, ignore_errors=True)
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
