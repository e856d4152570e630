"""A private system bus and a real polkitd for gnomon's tests.

``PrivateBus`` runs ``dbus-daemon`` with a system-bus-like configuration
(``<type>system</type>``, EXTERNAL authentication) on a socket in its own
directory; clients find it through ``DBUS_SYSTEM_BUS_ADDRESS`` (``env()``).
Its default policy allows everything (with ``<allow send_type="method_call"/>``
instead, clients hang); the project's own ``dbus/*.conf`` files are included
after it, so their rules are the ones that decide (later rules win).  The
socket is world-accessible: processes under other uids (``run_as``) connect.

``Polkitd`` runs Debian's real ``/usr/lib/polkit-1/polkitd`` as root on that
bus, inside its own mount namespace (``unshare -m --propagation private``).
A small shell bootstrap bind-mounts, in that namespace only:

* a directory holding the given actions over ``/usr/share/polkit-1/actions``,
* a directory holding the given rules over ``/etc/polkit-1/rules.d``,
* an empty directory over ``/usr/share/polkit-1/rules.d``, so the distro's own
  rules (Debian's 50-default.rules makes group sudo the administrators) and
  anything else installed on the machine cannot change a test's outcome.  Where
  a rule file lives does not change how it is evaluated: polkitd sorts the files
  of both directories together by name.

then execs polkitd.  polkitd drops to the user ``polkitd`` itself ("Successfully
changed to user polkitd"), so every file given here is copied into a directory
that user can read (0755 directories, 0644 files).  It needs no /run/polkit-1.

How polkitd decides (polkit 122, Debian 12), checked with this harness:

* A ``system-bus-name`` subject: polkitd calls the bus's GetConnectionUnixUser
  and GetConnectionUnixProcessID for the name (seen with dbus-monitor), so the
  uid is the one the connecting process had when it authenticated (EXTERNAL);
  the caller of CheckAuthorization is identified the same way.  A
  ``unix-process`` subject: polkitd reads /proc/PID (or takes the ``uid`` the
  caller passes).
* Groups for ``subject.isInGroup()`` come from the user database (the user's
  supplementary groups in /etc/group), not from the subject process.
* A caller may check a subject of another uid only if it is uid 0 or an owner of
  the action (annotation ``org.freedesktop.policykit.owner``); otherwise the call
  fails with ``org.freedesktop.PolicyKit1.Error.NotAuthorized`` ("Only trusted
  callers ...").
* A subject with uid 0 is authorized for every action, even one whose defaults
  are ``no``.
* Without logind there are no sessions: ``allow_active``/``allow_inactive``
  never apply, only ``allow_any`` and rules.

``run_as`` runs a command as another user through ``setpriv``, always without
CAP_SYS_TIME in the bounding and inheritable sets: a mistake fails with EPERM
instead of moving this machine's clock.

Standard library only.  Run as root (useradd, unshare, mount).
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import os
import pwd
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

DBUS_DAEMON = "/usr/bin/dbus-daemon"
POLKITD = "/usr/lib/polkit-1/polkitd"
GDBUS = "/usr/bin/gdbus"
PKCHECK = "/usr/bin/pkcheck"
SETPRIV = "/usr/bin/setpriv"
UNSHARE = "/usr/bin/unshare"
USERADD = "/usr/sbin/useradd"
GROUPADD = "/usr/sbin/groupadd"
USERMOD = "/usr/sbin/usermod"

#: No right to change the clock, for every process the harness starts.
NO_CLOCK_PRIVS = ["--bounding-set", "-sys_time", "--inh-caps", "-sys_time"]

POLKIT_NAME = "org.freedesktop.PolicyKit1"
POLKIT_PATH = "/org/freedesktop/PolicyKit1/Authority"
POLKIT_INTERFACE = "org.freedesktop.PolicyKit1.Authority"

# Where polkitd reads its configuration; the bootstrap binds over these.
POLKIT_ACTIONS_DIR = "/usr/share/polkit-1/actions"
POLKIT_ETC_RULES_DIR = "/etc/polkit-1/rules.d"
POLKIT_SHARE_RULES_DIR = "/usr/share/polkit-1/rules.d"

#: The system user the agent runs as (interfaces.md).
AGENT_USER = "gnomon"
#: A plain local user: no groups beyond its own.
TEST_USER = "gnomon-test-user"
#: A user in TEST_ADMINS_GROUP, for test-only rules naming "administrators".
TEST_ADMIN = "gnomon-test-admin"
TEST_ADMINS_GROUP = "gnomon-test-admins"

START_TIMEOUT = 10.0  # seconds until a bus or polkitd must be ready
STOP_TIMEOUT = 5.0    # seconds between SIGTERM and SIGKILL
CALL_TIMEOUT = 10.0   # seconds for one gdbus/pkcheck call
SUN_PATH_MAX = 107    # usable bytes of sockaddr_un.sun_path
USERS_LOCK = "/run/lock/gnomon-test-users.lock"

#: Set to a non-empty value to keep bus and polkitd directories (logs) after stop().
KEEP_ENV = "GNOMON_KEEP_TEST_DIRS"


class BusError(RuntimeError):
    """A bus or polkitd could not be started, or a call could not be made."""


class CallError(BusError):
    """A D-Bus call returned an error; ``name`` is the D-Bus error name."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__("%s: %s" % (name, message))
        self.name = name
        self.message = message


# --------------------------------------------------------------------------
# users


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _run_checked(argv: Sequence[str]) -> None:
    proc = subprocess.run(list(argv), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=CALL_TIMEOUT, check=False)
    if proc.returncode != 0:
        raise BusError("%s failed (exit %d): %s" % (" ".join(argv), proc.returncode,
                                                    proc.stderr.strip()))


def ensure_users(timeout: float = 30.0) -> None:
    """Create the system users the tests need, if missing: AGENT_USER, TEST_USER,
    and TEST_ADMIN in group TEST_ADMINS_GROUP.  Idempotent; tests running in
    parallel serialise on a lock file (bounded wait)."""
    os.makedirs(os.path.dirname(USERS_LOCK), exist_ok=True)
    fd = os.open(USERS_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise BusError("%s stayed locked for %.0f s" % (USERS_LOCK, timeout))
                time.sleep(0.05)
        if not _group_exists(TEST_ADMINS_GROUP):
            _run_checked([GROUPADD, "--system", TEST_ADMINS_GROUP])
        for name in (AGENT_USER, TEST_USER, TEST_ADMIN):
            if not _user_exists(name):
                _run_checked([USERADD, "--system", "--user-group", "--no-create-home",
                              "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                              name])
        if TEST_ADMIN not in grp.getgrnam(TEST_ADMINS_GROUP).gr_mem:
            _run_checked([USERMOD, "--append", "--groups", TEST_ADMINS_GROUP, TEST_ADMIN])
    finally:
        os.close(fd)  # releases the lock


# --------------------------------------------------------------------------
# processes


def as_user(user, argv: Sequence[str], groups: str = "init",
            die_with_parent: bool = False) -> List[str]:
    """The command line that runs ``argv`` as ``user`` (name or uid) and its
    primary group, without CAP_SYS_TIME in its bounding and inheritable sets.
    ``groups``: "init" = the user's supplementary groups, "clear" = none (how
    the agent runs).  ``die_with_parent``: SIGTERM when the harness thread that
    started it ends (setpriv sets this after the uid change, which would clear
    it; a parent that dies within the first milliseconds is not noticed)."""
    entry = pwd.getpwuid(user) if isinstance(user, int) else pwd.getpwnam(user)
    group_option = {"init": "--init-groups", "clear": "--clear-groups"}[groups]
    cmd = [SETPRIV, "--reuid", str(entry.pw_uid), "--regid", str(entry.pw_gid),
           group_option] + NO_CLOCK_PRIVS
    if die_with_parent:
        cmd += ["--pdeathsig", "TERM"]
    return cmd + ["--"] + list(argv)


def base_env(extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
    """A small, predictable environment (no session bus, C locale)."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
    for key in ("GNOMON_TEST_WRAPPER", "G_DEBUG", "G_SLICE", "ASAN_OPTIONS",
                "UBSAN_OPTIONS", "LSAN_OPTIONS"):
        if key in os.environ:
            env[key] = os.environ[key]
    env.update(extra or {})
    return env


def run_as(user: str, argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
           timeout: float = CALL_TIMEOUT, groups: str = "init",
           input: Optional[str] = None) -> subprocess.CompletedProcess:
    """Run ``argv`` as ``user`` (see ``as_user``) and wait for it (bounded: a
    timeout raises subprocess.TimeoutExpired after the child was killed).
    ``env`` replaces the environment entirely (``base_env()`` when None)."""
    return subprocess.run(as_user(user, argv, groups), env=dict(env or base_env()),
                          input=input, stdin=None if input is not None else subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, check=False)


def spawn_as(user: str, argv: Sequence[str], env: Optional[Mapping[str, str]] = None,
             groups: str = "init", stdout=subprocess.DEVNULL,
             stderr=subprocess.DEVNULL) -> subprocess.Popen:
    """Start ``argv`` as ``user`` in its own process group; it gets SIGTERM if
    the harness dies.  End it with ``terminate(proc)``."""
    return subprocess.Popen(as_user(user, argv, groups, die_with_parent=True),
                            env=dict(env or base_env()), stdin=subprocess.DEVNULL,
                            stdout=stdout, stderr=stderr, start_new_session=True,
                            close_fds=True)


def terminate(proc: Optional[subprocess.Popen], timeout: float = STOP_TIMEOUT) -> None:
    """End a process we started, by its PID: SIGTERM, SIGKILL after ``timeout``,
    then reap it.  Bounded."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=timeout)


def process_start_time(pid: int) -> int:
    """Field 22 of /proc/PID/stat (clock ticks since boot), as polkit's
    unix-process subject wants it."""
    with open("/proc/%d/stat" % pid) as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def _make_dir(directory: Optional[str], prefix: str) -> Tuple[str, bool]:
    """(directory, created_here); readable and traversable by every uid."""
    if directory is None:
        directory = tempfile.mkdtemp(prefix=prefix)
        created = True
    else:
        os.makedirs(directory, exist_ok=True)
        created = False
    os.chmod(directory, 0o755)
    # Other uids (polkitd's own user, run_as) must reach files in it.
    parent = os.path.dirname(os.path.abspath(directory))
    while parent != "/":
        if not os.stat(parent).st_mode & 0o001:
            if created:
                os.rmdir(directory)
            raise BusError("%s is not searchable by other users (needed for %s)"
                           % (parent, directory))
        parent = os.path.dirname(parent)
    return directory, created


# --------------------------------------------------------------------------
# gdbus output


def _gvariant_bools(text: str) -> List[bool]:
    return [word == "true" for word in re.findall(r"\b(true|false)\b", text)]


def _call_error(stderr: str) -> CallError:
    """gdbus prints "Error: GDBus.Error:NAME: MESSAGE"; anything else is a
    failure of gdbus itself (e.g. no bus)."""
    match = re.search(r"GDBus\.Error:([\w.]+): (.*)", stderr, re.S)
    if match:
        return CallError(match.group(1), match.group(2).strip())
    return CallError("gdbus", stderr.strip())


# --------------------------------------------------------------------------
# the bus


class PrivateBus:
    """One private dbus-daemon acting as the system bus.

    ``policy_files``: bus policy files to ``<include>`` (the project's
    dbus/*.conf), after the permissive default.  ``service_dirs``: directories
    of activation files (``<servicedir>``).  Use as a context manager or call
    ``start()``/``stop()``."""

    def __init__(self, directory: Optional[str] = None, policy_files: Iterable[str] = (),
                 service_dirs: Iterable[str] = (), name: str = "bus",
                 start_timeout: float = START_TIMEOUT,
                 service_start_timeout: float = START_TIMEOUT) -> None:
        self.name = name
        self.policy_files = [os.path.abspath(p) for p in policy_files]
        self.service_dirs = [os.path.abspath(d) for d in service_dirs]
        self.start_timeout = start_timeout
        self.service_start_timeout = service_start_timeout
        self._directory = directory
        self._created_dir = False
        self.directory: Optional[str] = None
        self.address: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def socket_path(self) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, "system_bus_socket")

    @property
    def config_file(self) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, "bus.conf")

    @property
    def log_file(self) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, "dbus-daemon.log")

    def __enter__(self) -> "PrivateBus":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def config_text(self) -> str:
        def esc(text: str) -> str:
            return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

        lines = [
            '<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"',
            ' "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">',
            "<busconfig>",
            "  <type>system</type>",
            "  <listen>unix:path=%s</listen>" % esc(self.socket_path),
            "  <auth>EXTERNAL</auth>",
            '  <policy context="default">',
            '    <allow user="*"/>',
            '    <allow own="*"/>',
            '    <allow send_destination="*" eavesdrop="true"/>',
            '    <allow eavesdrop="true"/>',
            "  </policy>",
        ]
        # Activation: without <servicehelper> the bus starts the Exec= line itself, as
        # root (User= is not used). An activated program that exits 0 without taking its
        # name is waited for until service_start_timeout (dbus-daemon's default: 25 s).
        lines += ["  <servicedir>%s</servicedir>" % esc(d) for d in self.service_dirs]
        lines.append('  <limit name="service_start_timeout">%d</limit>'
                     % int(self.service_start_timeout * 1000))
        lines += ['  <include ignore_missing="no">%s</include>' % esc(p)
                  for p in self.policy_files]
        lines.append("</busconfig>")
        return "\n".join(lines) + "\n"

    def start(self) -> "PrivateBus":
        if self._proc is not None:
            raise BusError("%s: already started" % self.name)
        self.directory, self._created_dir = _make_dir(self._directory, "gnomon-bus-")
        try:
            if len(self.socket_path.encode()) > SUN_PATH_MAX:
                raise BusError("socket path too long: %s" % self.socket_path)
            with open(self.config_file, "w") as f:
                f.write(self.config_text())
            with open(self.log_file, "ab") as log:
                self._proc = subprocess.Popen(
                    [SETPRIV] + NO_CLOCK_PRIVS + ["--pdeathsig", "TERM", DBUS_DAEMON,
                                                  "--config-file=" + self.config_file,
                                                  "--print-address", "--nofork"],
                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                    env=base_env(), start_new_session=True, close_fds=True)
            self.address = self._read_address()
            # dbus-daemon creates the socket with our umask: open it to every uid.
            os.chmod(self.socket_path, 0o666)
            if not self.name_has_owner("org.freedesktop.DBus"):
                raise BusError("%s: bus does not answer" % self.name)
        except BaseException:
            self.stop()
            raise
        return self

    def _read_address(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.start_timeout
        fd = self._proc.stdout.fileno()
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BusError("%s: no address after %.0f s:\n%s"
                               % (self.name, self.start_timeout, self.log_tail()))
            ready, _, _ = select.select([fd], [], [], min(left, 0.5))
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    raise BusError("%s: dbus-daemon exited (%s):\n%s"
                                   % (self.name, self._proc.wait(timeout=STOP_TIMEOUT),
                                      self.log_tail()))
                data += chunk
        self._proc.stdout.close()
        return data.split(b"\n", 1)[0].decode().strip()

    def log_tail(self, limit: int = 3000) -> str:
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[-limit:]
        except (OSError, AssertionError):
            return ""

    def env(self, extra: Optional[Mapping[str, str]] = None) -> Dict[str, str]:
        """``base_env()`` pointing the system bus here."""
        if not self.address:
            raise BusError("%s: not started" % self.name)
        env = base_env(extra)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        return env

    def stop(self, keep_dir: bool = False) -> None:
        terminate(self._proc)
        self._proc = None
        self.address = None
        if (self._created_dir and self.directory and not keep_dir
                and not os.environ.get(KEEP_ENV)):
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- calls ------------------------------------------------------------

    def call(self, dest: str, path: str, method: str, *args: str, user: Optional[str] = None,
             timeout: float = CALL_TIMEOUT) -> str:
        """``gdbus call`` on this bus (as ``user`` when given, else as root);
        returns gdbus's text of the reply, raises CallError on a D-Bus error.
        ``args`` are GVariant texts, e.g. "'name'", "uint32 5"."""
        argv = [GDBUS, "call", "--system", "--timeout", str(int(max(1, timeout - 1))),
                "--dest", dest, "--object-path", path, "--method", method, *args]
        try:
            if user is None:
                proc = subprocess.run([SETPRIV] + NO_CLOCK_PRIVS + argv, env=self.env(),
                                      stdin=subprocess.DEVNULL, capture_output=True,
                                      text=True, timeout=timeout, check=False)
            else:
                proc = run_as(user, argv, env=self.env(), timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise CallError("timeout", "%s %s: no reply within %.0f s"
                            % (dest, method, timeout)) from exc
        if proc.returncode != 0:
            raise _call_error(proc.stderr)
        return proc.stdout.strip()

    def _bus_call(self, method: str, *args: str) -> str:
        return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                         "org.freedesktop.DBus." + method, *args)

    def name_has_owner(self, name: str) -> bool:
        return _gvariant_bools(self._bus_call("NameHasOwner", name)) == [True]

    def owner_pid(self, name: str) -> Optional[int]:
        """PID of the connection owning ``name`` (unique or well-known), or None."""
        try:
            out = self._bus_call("GetConnectionUnixProcessID", name)
        except CallError:
            return None
        match = re.search(r"uint32 (\d+)", out)
        return int(match.group(1)) if match else None

    def unique_name_of(self, pid: int, timeout: float = START_TIMEOUT) -> str:
        """The unique bus name of the (first) connection made by process
        ``pid``; waits (bounded) for it to connect."""
        deadline = time.monotonic() + timeout
        while True:
            names = re.findall(r"'(:[0-9.]+)'", self._bus_call("ListNames"))
            for name in names:
                if self.owner_pid(name) == pid:
                    return name
            if time.monotonic() > deadline:
                raise BusError("%s: process %d has no connection after %.0f s"
                               % (self.name, pid, timeout))
            time.sleep(0.05)

    def wait_for_name(self, name: str, timeout: float = START_TIMEOUT,
                      alive: Optional[subprocess.Popen] = None) -> bool:
        """True once ``name`` has an owner; False after ``timeout`` or when the
        process ``alive`` (if given) has exited."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            if self.name_has_owner(name):
                return True
            if alive is not None and alive.poll() is not None:
                return False
            if time.monotonic() > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


# --------------------------------------------------------------------------
# polkitd


class Polkitd:
    """The real polkitd on ``bus``, seeing only the given actions and rules.

    ``actions``: .policy files (e.g. the build's policy/org.gnomon.policy);
    ``rules``: .rules files, all placed in /etc/polkit-1/rules.d as polkitd sees
    it; /usr/share/polkit-1/rules.d is empty there.  ``debug``: without
    ``--no-debug`` polkitd logs rule loading and JavaScript errors to
    ``log_file`` (with it, it only logs to syslog)."""

    def __init__(self, bus: PrivateBus, actions: Iterable[str] = (), rules: Iterable[str] = (),
                 directory: Optional[str] = None, debug: bool = True,
                 start_timeout: float = START_TIMEOUT) -> None:
        self.bus = bus
        self.actions = [os.path.abspath(p) for p in actions]
        self.rules = [os.path.abspath(p) for p in rules]
        self.debug = debug
        self.start_timeout = start_timeout
        self._directory = directory
        self._created_dir = False
        self.directory: Optional[str] = None
        self._proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    @property
    def log_file(self) -> str:
        assert self.directory is not None
        return os.path.join(self.directory, "polkitd.log")

    def __enter__(self) -> "Polkitd":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _populate(self, subdir: str, files: Sequence[str]) -> str:
        assert self.directory is not None
        path = os.path.join(self.directory, subdir)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o755)
        for src in files:
            dst = os.path.join(path, os.path.basename(src))
            if os.path.exists(dst):
                raise BusError("two %s files named %s" % (subdir, os.path.basename(src)))
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)
        return path

    # The bootstrap: bind mounts exist only in the new namespace (private
    # propagation: nothing leaks to the machine's mount table), then polkitd
    # replaces the shell, keeping the PID.
    BOOTSTRAP = ('set -e; '
                 'mount --bind "$1" ' + POLKIT_ACTIONS_DIR + '; '
                 'mount --bind "$2" ' + POLKIT_ETC_RULES_DIR + '; '
                 'mount --bind "$3" ' + POLKIT_SHARE_RULES_DIR + '; '
                 'shift 3; exec "$@"')

    def command(self) -> List[str]:
        assert self.directory is not None
        argv = [SETPRIV] + NO_CLOCK_PRIVS + ["--pdeathsig", "TERM",
                                             UNSHARE, "--mount", "--propagation", "private",
                                             "/bin/sh", "-c", self.BOOTSTRAP, "polkitd-bootstrap",
                                             os.path.join(self.directory, "actions"),
                                             os.path.join(self.directory, "rules"),
                                             os.path.join(self.directory, "share-rules"),
                                             POLKITD]
        if not self.debug:
            argv.append("--no-debug")
        return argv

    def start(self) -> "Polkitd":
        if self._proc is not None:
            raise BusError("polkitd already started")
        if not self.bus.address:
            raise BusError("polkitd: the bus is not started")
        if self.bus.name_has_owner(POLKIT_NAME):
            raise BusError("%s already has an owner on this bus" % POLKIT_NAME)
        self.directory, self._created_dir = _make_dir(self._directory, "gnomon-polkitd-")
        try:
            self._populate("actions", self.actions)
            self._populate("rules", self.rules)
            self._populate("share-rules", [])
            with open(self.log_file, "ab") as log:
                self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                              stdout=log, stderr=log, env=self.bus.env(),
                                              start_new_session=True, close_fds=True)
            if not self.bus.wait_for_name(POLKIT_NAME, self.start_timeout, alive=self._proc):
                raise BusError("polkitd did not appear on the bus within %.0f s (%s):\n%s"
                               % (self.start_timeout,
                                  "exit %s" % self._proc.returncode
                                  if self._proc.poll() is not None else "still running",
                                  self.log_tail()))
            owner = self.bus.owner_pid(POLKIT_NAME)
            if owner != self._proc.pid:
                raise BusError("%s is owned by PID %s, not by our polkitd %d"
                               % (POLKIT_NAME, owner, self._proc.pid))
        except BaseException:
            self.stop()
            raise
        return self

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, limit: int = 3000) -> str:
        try:
            with open(self.log_file, errors="replace") as f:
                return f.read()[-limit:]
        except (OSError, AssertionError):
            return ""

    def stop(self, keep_dir: bool = False) -> None:
        """End polkitd by PID (it is the process we started: setpriv, unshare
        and the shell all exec) and wait until its name is gone (bounded)."""
        was_running = self.running()
        terminate(self._proc)
        self._proc = None
        if was_running and self.bus.address:
            deadline = time.monotonic() + STOP_TIMEOUT
            while self.bus.name_has_owner(POLKIT_NAME) and time.monotonic() < deadline:
                time.sleep(0.02)
        if (self._created_dir and self.directory and not keep_dir
                and not os.environ.get(KEEP_ENV)):
            shutil.rmtree(self.directory, ignore_errors=True)


# --------------------------------------------------------------------------
# asking polkit


def pkcheck(bus: PrivateBus, user: str, action: str, groups: str = "init",
            timeout: float = CALL_TIMEOUT) -> subprocess.CompletedProcess:
    """``pkcheck --action-id ACTION --process PID`` run as ``user`` for its own
    process (the caller is the subject).  pkcheck reaches polkitd on the bus
    in DBUS_SYSTEM_BUS_ADDRESS.  Exit status: 0 authorized, 1 not authorized,
    2 authentication would be needed (no agent / no interaction), 127 error
    (e.g. no polkitd)."""
    return run_as(user, ["/bin/sh", "-c", 'exec "$0" --action-id "$1" --process $$',
                         PKCHECK, action], env=bus.env(), groups=groups, timeout=timeout)


def check_authorization(bus: PrivateBus, caller: Optional[str], subject: Tuple,
                        action: str, interactive: bool = False,
                        timeout: float = CALL_TIMEOUT) -> Tuple[bool, bool]:
    """CheckAuthorization through gdbus, the call the agent and the helper make.

    ``caller``: the user making the call (None = root).  ``subject``:
    ("system-bus-name", ":1.5") or ("unix-process", pid).  Returns
    (is_authorized, is_challenge); raises CallError when polkitd refuses the
    call or is absent (org.freedesktop.DBus.Error.ServiceUnknown)."""
    kind, value = subject
    if kind == "system-bus-name":
        subject_text = "('system-bus-name', {'name': <'%s'>})" % value
    elif kind == "unix-process":
        subject_text = ("('unix-process', {'pid': <uint32 %d>, 'start-time': <uint64 %d>})"
                        % (value, process_start_time(value)))
    else:
        raise ValueError("unknown subject kind %r" % kind)
    out = bus.call(POLKIT_NAME, POLKIT_PATH, POLKIT_INTERFACE + ".CheckAuthorization",
                   subject_text, action, "@a{ss} {}", "uint32 %d" % (1 if interactive else 0),
                   "''", user=caller, timeout=timeout)
    flags = _gvariant_bools(out)
    if len(flags) != 2:
        raise BusError("unexpected CheckAuthorization reply: %s" % out)
    return flags[0], flags[1]
