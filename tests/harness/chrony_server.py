"""Real NTS servers for gnomon's tests: Debian's chronyd on loopback.

``ChronyNtsServer`` runs one ``chronyd`` as an NTS-KE + NTP server bound to
127.0.0.1 (and ::1 when the host has it) on free ports, in a private
directory, never touching this machine's clock:

* ``chronyd -x`` (no clock control), ``-u root -d``, and always under
  ``setpriv --bounding-set -sys_time --inh-caps -sys_time`` so that even a
  mistake fails with EPERM;
* ``setpriv --pdeathsig TERM``: if the harness process dies, its servers
  follow (the signal comes when the *thread* that started the server ends,
  so start servers from a long-lived thread, normally the main one).

A "liar" is the same server under Debian's libfaketime (``LD_PRELOAD``,
``FAKETIME=+30``): it serves time offset by that many seconds.  Whole seconds
are reliable; sub-second lies are not (use the adversarial test server).

Servers bind 127.0.0.1 by default; ``address="127.0.0.N"`` gives one its own
loopback address (chronyd as a *client* keeps one source per IP address, so a
chronyd client needs a distinct address per server; see ``start_servers``).

Readiness is checked without connecting: the server is up when /proc shows
its own process holding the TCP listening socket on the NTS-KE port and the
UDP socket on the NTP port (a bare TCP connect would count as an accepted
NTS-KE connection in ``serverstats``).  A port taken between picking and
binding is retried with new ports.

The command socket (``bindcmdaddress DIR/chronyd.sock``, ``cmdport 0``) lets
``serverstats()`` / ``ke_connections()`` read chrony's counters via chronyc.

Standard library only.  Run as root (chronyd with ``-u root``).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

CHRONYD = "/usr/sbin/chronyd"
CHRONYC = "/usr/bin/chronyc"
SETPRIV = "/usr/bin/setpriv"

#: Prefix for every chronyd (server or client) the harness starts.
NO_CLOCK_PRIVS = [SETPRIV, "--bounding-set", "-sys_time", "--inh-caps", "-sys_time"]

RUN_DIR = "/run/chrony"  # chronyd and chronyc want it (chronyc puts its socket there)
START_TIMEOUT = 10.0     # seconds until a server must be ready
STOP_TIMEOUT = 5.0       # seconds between SIGTERM and SIGKILL
CHRONYC_TIMEOUT = 10.0   # seconds for one chronyc call
PORT_ATTEMPTS = 5        # launches with fresh ports before giving up
SUN_PATH_MAX = 107       # usable bytes of sockaddr_un.sun_path

#: Set to a non-empty value to keep server directories (logs) after stop().
KEEP_ENV = "GNOMON_KEEP_TEST_DIRS"

# What chronyd logs (and then keeps running) when a port is taken.
_BIND_FAILED = re.compile(r"Could not open (?:NTP|NTS-KE) socket on \S+")

Offset = Union[int, float, str]


class ServerError(RuntimeError):
    """A server could not be started or queried."""


class _PortCollision(ServerError):
    """chronyd could not bind a port picked for it (someone else took it)."""


# --------------------------------------------------------------------------
# environment helpers


def ensure_run_dir() -> None:
    """Create /run/chrony if missing (Debian's package makes it at boot)."""
    try:
        os.makedirs(RUN_DIR, mode=0o750, exist_ok=True)
    except OSError as exc:
        raise ServerError("cannot create %s: %s" % (RUN_DIR, exc)) from exc


_faketime_lib: Optional[str] = None


def faketime_library() -> str:
    """Path of Debian's libfaketime.so.1, found with ``dpkg -L libfaketime``."""
    global _faketime_lib
    if _faketime_lib is None:
        candidates: List[str] = []
        try:
            out = subprocess.run(["dpkg", "-L", "libfaketime"], capture_output=True,
                                 text=True, timeout=10, check=False).stdout
            candidates = [line.strip() for line in out.splitlines()
                          if line.strip().endswith("/libfaketime.so.1")]
        except (OSError, subprocess.TimeoutExpired):
            pass
        candidates += glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
        found = [c for c in candidates if os.path.isfile(c)]
        if not found:
            raise ServerError("libfaketime not found (install the libfaketime package)")
        _faketime_lib = found[0]
    return _faketime_lib


def faketime_spec(offset: Offset) -> str:
    """FAKETIME value for an offset: 30 -> "+30", -2.5 -> "-2.500000"; a
    string is passed through (e.g. "+1d", "@2030-01-01 00:00:00")."""
    if isinstance(offset, str):
        return offset
    if isinstance(offset, int) or float(offset).is_integer():
        return "%+d" % int(offset)
    return "%+.6f" % float(offset)


_ipv6_loopback: Optional[bool] = None


def have_ipv6_loopback() -> bool:
    """True when ::1 can be bound on this host."""
    global _ipv6_loopback
    if _ipv6_loopback is None:
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
                s.bind(("::1", 0))
            _ipv6_loopback = True
        except OSError:
            _ipv6_loopback = False
    return _ipv6_loopback


def _reserve(kind: int, families: Sequence[Tuple[int, str]]) -> Tuple[int, List[socket.socket]]:
    """Bind port 0 on the first family and the same port on the others.

    Returns the port and the sockets; the caller closes them just before
    chronyd binds (a small race, covered by retrying the launch).
    """
    for _ in range(50):
        held: List[socket.socket] = []
        try:
            port = 0
            for family, addr in families:
                s = socket.socket(family, kind)
                held.append(s)
                s.bind((addr, port))
                port = s.getsockname()[1]
            return port, held
        except OSError as exc:
            for s in held:
                s.close()
            if exc.errno != errno.EADDRINUSE:
                raise
    raise ServerError("no free port found")


def pick_ports(ipv6: bool, address: str = "127.0.0.1") -> Tuple[int, int, List[socket.socket]]:
    """Pick (ke_port, ntp_port) free on ``address`` (and ::1 if ``ipv6``);
    returns the holding sockets too."""
    families = [(socket.AF_INET, address)]
    if ipv6:
        families.append((socket.AF_INET6, "::1"))
    ke_port, held = _reserve(socket.SOCK_STREAM, families)
    try:
        ntp_port, held2 = _reserve(socket.SOCK_DGRAM, families)
    except BaseException:
        for s in held:
            s.close()
        raise
    return ke_port, ntp_port, held + held2


def _socket_inodes(pid: int) -> set:
    inodes = set()
    for fd in glob.glob("/proc/%d/fd/*" % pid):
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _bound_ports(pid: int, table: str, state: Optional[str]) -> set:
    """Local ports in /proc/PID/net/TABLE whose socket belongs to ``pid``."""
    inodes = _socket_inodes(pid)
    ports = set()
    try:
        with open("/proc/%d/net/%s" % (pid, table)) as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) < 10:
                    continue
                if state is not None and fields[3] != state:
                    continue
                if fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    except OSError:
        pass
    return ports


def _children(pid: int) -> List[int]:
    kids: List[int] = []
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(path) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def parse_serverstats(text: str) -> Dict[str, Union[int, float]]:
    """Parse ``chronyc serverstats``: lines "Name<spaces>: value"."""
    stats: Dict[str, Union[int, float]] = {}
    for line in text.splitlines():
        if ":" not in line:
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        try:
            stats[key.strip()] = int(value)
        except ValueError:
            try:
                stats[key.strip()] = float(value)
            except ValueError:
                continue
    return stats


# --------------------------------------------------------------------------
# the server


class ChronyNtsServer:
    """One chronyd NTS server on loopback.  Use as a context manager or call
    ``start()`` / ``stop()``.  ``stop()`` is idempotent and never raises for
    an already-dead server.

    Attributes after ``start()``: ``ke_port``, ``ntp_port``, ``pid``,
    ``directory``, ``config_file``, ``log_file``, ``cmd_socket``, ``host``.
    """

    def __init__(self, cert_file: str, key_file: str, *, name: str = "chrony",
                 faketime: Optional[Offset] = None, address: str = "127.0.0.1",
                 ipv6: Optional[bool] = None,
                 command_socket: bool = True, parent_dir: Optional[str] = None,
                 extra_config: Iterable[str] = (), start_timeout: float = START_TIMEOUT,
                 die_with_parent: bool = True) -> None:
        self.cert_file = os.path.abspath(cert_file)
        self.key_file = os.path.abspath(key_file)
        self.name = name
        self.faketime = faketime
        self.ipv6 = have_ipv6_loopback() if ipv6 is None else ipv6
        self.command_socket = command_socket
        self.parent_dir = parent_dir
        self.extra_config = list(extra_config)
        self.start_timeout = start_timeout
        self.die_with_parent = die_with_parent
        if not address.startswith("127."):
            raise ValueError("servers bind loopback addresses only, not %r" % address)
        self.host = address
        self.directory: Optional[str] = None
        self.config_file = self.log_file = self.cmd_socket = None  # type: Optional[str]
        self.ke_port = self.ntp_port = 0
        self._proc: Optional[subprocess.Popen] = None

    # -- life cycle -------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> "ChronyNtsServer":
        if not self.running():
            self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "<ChronyNtsServer %s ke=%d ntp=%d pid=%s faketime=%r>" % (
            self.name, self.ke_port, self.ntp_port, self.pid, self.faketime)

    def start(self) -> "ChronyNtsServer":
        """Start chronyd and wait until both ports are bound (bounded)."""
        if self._proc is not None:
            raise ServerError("%s already started" % self.name)
        ensure_run_dir()
        self.directory = tempfile.mkdtemp(prefix="gnomon-chrony-%s-" % self.name,
                                          dir=self.parent_dir)
        os.chmod(self.directory, 0o700)  # chronyd insists for the command socket
        self.config_file = os.path.join(self.directory, "chrony.conf")
        self.log_file = os.path.join(self.directory, "chronyd.log")
        self.cmd_socket = (os.path.join(self.directory, "chronyd.sock")
                           if self.command_socket else None)
        if self.cmd_socket and len(self.cmd_socket.encode()) > SUN_PATH_MAX:
            self._remove_dir()
            raise ServerError("socket path too long: %s" % self.cmd_socket)
        try:
            last: Optional[Exception] = None
            for _ in range(PORT_ATTEMPTS):
                try:
                    self._launch()
                    self._wait_ready()
                    return self
                except _PortCollision as exc:
                    last = exc
                    self._terminate()
            raise ServerError("%s: could not bind ports after %d attempts: %s"
                              % (self.name, PORT_ATTEMPTS, last))
        except BaseException:
            self.stop()
            raise

    def config_text(self) -> str:
        """The chronyd configuration for the current ports and directory."""
        d = self.directory
        lines = [
            "# gnomon test NTS server %s (generated)" % self.name,
            "ntsserverkey %s" % self.key_file,
            "ntsservercert %s" % self.cert_file,
            "ntsport %d" % self.ke_port,
            "port %d" % self.ntp_port,
            "ntsdumpdir %s" % d,
            "pidfile %s" % os.path.join(d, "chronyd.pid"),
            "local stratum 2",
            "allow 127.0.0.1",
            "allow ::1",
        ]
        if self.host != "127.0.0.1":
            lines.append("allow %s" % self.host)
        lines.append("bindaddress %s" % self.host)
        if self.ipv6:
            lines.append("bindaddress ::1")
        lines.append("cmdport 0")  # no UDP command port (it would collide at 323)
        if self.cmd_socket:
            lines.append("bindcmdaddress %s" % self.cmd_socket)
        lines += self.extra_config
        return "\n".join(lines) + "\n"

    def command(self) -> List[str]:
        argv = list(NO_CLOCK_PRIVS)
        if self.die_with_parent:
            argv += ["--pdeathsig", "TERM"]
        return argv + [CHRONYD, "-x", "-u", "root", "-d", "-f", self.config_file]

    def environment(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("LD_PRELOAD", "FAKETIME")}
        if self.faketime is not None:
            env["LD_PRELOAD"] = faketime_library()
            env["FAKETIME"] = faketime_spec(self.faketime)
        return env

    def restart(self, timeout: float = STOP_TIMEOUT) -> "ChronyNtsServer":
        """Stop chronyd and start it again in the same directory on the same
        ports.  chronyd saves its cookie keys in ``ntsdumpdir`` on exit and
        reloads them, so cookies issued before the restart stay valid (a
        client needs no new NTS-KE).  To make it forget them, delete
        ``DIR/ntskeys`` between ``stop_process()`` and ``restart()``."""
        if self.directory is None or not os.path.isdir(self.directory):
            raise ServerError("%s: nothing to restart" % self.name)
        self._terminate(timeout)
        try:
            self._launch(keep_ports=True)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop_process(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop chronyd but keep its directory and ports for ``restart()``
        (an outage)."""
        self._terminate(timeout)

    def _launch(self, keep_ports: bool = False) -> None:
        held: List[socket.socket] = []
        if not keep_ports:
            self.ke_port, self.ntp_port, held = pick_ports(self.ipv6, self.host)
        try:
            with open(self.config_file, "w") as f:
                f.write(self.config_text())
        finally:
            for s in held:
                s.close()
        # Leftovers of a previous run in this directory (restart()).
        for stale in (self.cmd_socket, os.path.join(self.directory, "chronyd.pid")):
            if stale:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(stale)
        with open(self.log_file, "ab") as log:
            log.write(("--- starting: ke_port %d ntp_port %d\n"
                       % (self.ke_port, self.ntp_port)).encode())
            log.flush()
            self._proc = subprocess.Popen(
                self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                env=self.environment(), start_new_session=True, close_fds=True)

    def _log_tail(self, limit: int = 3000) -> str:
        """The end of the log of the current launch."""
        try:
            with open(self.log_file, "r", errors="replace") as f:
                text = f.read()
        except OSError:
            return ""
        text = text[text.rfind("--- starting:"):]
        return text[-limit:]

    def _wait_ready(self) -> None:
        """Wait until chronyd holds its ports.  chronyd keeps running when a
        bind fails ("Could not open NTP socket on ..." / "Could not open NTS-KE
        socket on ..."), so the log is watched for that too."""
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        delay = 0.005
        while True:
            tail = self._log_tail()
            collision = _BIND_FAILED.search(tail)
            if collision:
                raise _PortCollision(collision.group(0))
            if self._proc.poll() is not None:
                raise ServerError("%s: chronyd exited with %s:\n%s"
                                  % (self.name, self._proc.returncode, tail))
            missing = self._missing()
            if not missing:
                return
            if time.monotonic() > deadline:
                raise ServerError("%s: not ready after %.0f s (missing: %s):\n%s"
                                  % (self.name, self.start_timeout,
                                     ", ".join(missing), tail))
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _missing(self) -> List[str]:
        """What chronyd has not bound yet (empty when ready)."""
        pid = self._proc.pid
        want = [("tcp", "0A", self.ke_port, "NTS-KE TCP %s" % self.host),
                ("udp", None, self.ntp_port, "NTP UDP %s" % self.host)]
        if self.ipv6:
            want += [("tcp6", "0A", self.ke_port, "NTS-KE TCP ::1"),
                     ("udp6", None, self.ntp_port, "NTP UDP ::1")]
        missing = ["%s port %d" % (what, port) for table, state, port, what in want
                   if port not in _bound_ports(pid, table, state)]
        if self.cmd_socket and not os.path.exists(self.cmd_socket):
            missing.append("command socket %s" % self.cmd_socket)
        return missing

    def _terminate(self, timeout: float = STOP_TIMEOUT) -> None:
        """End our chronyd (SIGTERM, SIGKILL after ``timeout``) and whatever is
        left of its process group (its NTS-KE helper), then reap it."""
        proc = self._proc
        if proc is None:
            return
        pid = proc.pid
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            killed = False
            # Wait for the exit without reaping: the zombie keeps the PID and
            # process-group ID reserved, so killpg below can't hit anyone else.
            while _exited_unreaped(pid) is False:
                if time.monotonic() > deadline:
                    if killed:
                        break  # unkillable (D state?): give up, bounded
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    killed = True
                    deadline = time.monotonic() + timeout
                time.sleep(0.01)
            # start_new_session made pid the process group of chronyd and its
            # helper(s); the helper normally exits with the parent anyway.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self._proc = None

    def stop(self, timeout: float = STOP_TIMEOUT, keep_dir: bool = False) -> None:
        """Stop the server and remove its directory (kept if ``keep_dir`` or
        $GNOMON_KEEP_TEST_DIRS is set)."""
        self._terminate(timeout)
        if not keep_dir and not os.environ.get(KEEP_ENV):
            self._remove_dir()

    def _remove_dir(self) -> None:
        if self.directory and os.path.isdir(self.directory):
            shutil.rmtree(self.directory, ignore_errors=True)

    # -- queries ----------------------------------------------------------

    def chronyc(self, *args: str, timeout: float = CHRONYC_TIMEOUT) -> str:
        """Run ``chronyc -h DIR/chronyd.sock ARGS`` and return its output."""
        if not self.cmd_socket:
            raise ServerError("%s has no command socket" % self.name)
        ensure_run_dir()
        try:
            proc = subprocess.run([CHRONYC, "-h", self.cmd_socket, *args],
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ServerError("chronyc %s timed out" % " ".join(args)) from exc
        if proc.returncode != 0:
            raise ServerError("chronyc %s failed (%d): %s"
                              % (" ".join(args), proc.returncode,
                                 (proc.stderr or proc.stdout).strip()))
        return proc.stdout

    def serverstats(self) -> Dict[str, Union[int, float]]:
        """chrony's server counters, e.g. {"NTP packets received": 3,
        "NTS-KE connections accepted": 1, "Authenticated NTP packets": 3, ...}."""
        return parse_serverstats(self.chronyc("serverstats"))

    def ke_connections(self) -> int:
        """NTS-KE connections accepted so far (any TCP connect counts)."""
        return int(self.serverstats()["NTS-KE connections accepted"])

    def ntp_packets_received(self) -> int:
        return int(self.serverstats()["NTP packets received"])

    def authenticated_ntp_packets(self) -> int:
        return int(self.serverstats()["Authenticated NTP packets"])

    def describe(self) -> Dict[str, object]:
        """A JSON-friendly description (as printed by ``nts-servers``)."""
        return {
            "name": self.name,
            "host": self.host,
            "ke_port": self.ke_port,
            "ntp_port": self.ntp_port,
            "pid": self.pid,
            "faketime": None if self.faketime is None else faketime_spec(self.faketime),
            "ipv6": self.ipv6,
            "directory": self.directory,
            "cmd_socket": self.cmd_socket,
        }


def _exited_unreaped(pid: int) -> Optional[bool]:
    """True once child ``pid`` has exited (left unreaped), False while it
    runs, None if it is not our child any more (already reaped)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    return info is not None


def loopback_addresses(n: int) -> List[str]:
    """127.0.0.1 .. 127.0.0.n: one IPv4 loopback address per server, for
    clients such as chronyd that keep one source per IP address."""
    if not 0 <= n <= 254:
        raise ValueError("n out of range")
    return ["127.0.0.%d" % (i + 1) for i in range(n)]


def start_servers(n_honest: int, liars: Sequence[Offset] = (), *, ca,
                  distinct_addresses: bool = False, parent_dir: Optional[str] = None,
                  **kwargs) -> List[ChronyNtsServer]:
    """Start ``n_honest`` honest servers and one liar per offset in ``liars``
    (seconds, e.g. [30, -30]), all with ``ca``'s server certificate (a
    ``testca.TestCA``).  Names: honest-1.., liar-1...

    By default every server binds 127.0.0.1 (and ::1) on its own ports.  With
    ``distinct_addresses`` server i binds 127.0.0.i instead (``loopback_addresses``);
    the certificate must then carry those IP addresses (``testca.make_ca(...,
    extra_ip_addresses=loopback_addresses(n))``).  chronyd as a client needs
    this: it keeps one source per IP address and silently drops a second
    ``server`` line for the same address with another port.

    If any server fails to start, the ones already started are stopped and
    the error is raised.  Extra keyword arguments go to ``ChronyNtsServer``."""
    servers: List[ChronyNtsServer] = []
    specs: List[Tuple[str, Optional[Offset]]] = [
        ("honest-%d" % (i + 1), None) for i in range(n_honest)]
    specs += [("liar-%d" % (i + 1), off) for i, off in enumerate(liars)]
    addresses = loopback_addresses(len(specs)) if distinct_addresses else None
    try:
        for i, (name, off) in enumerate(specs):
            if addresses:
                kwargs["address"] = addresses[i]
            server = ChronyNtsServer(ca.cert_file, ca.key_file, name=name,
                                     faketime=off, parent_dir=parent_dir, **kwargs)
            servers.append(server)
            server.start()
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: Iterable[ChronyNtsServer]) -> None:
    """Stop every server, even if stopping one of them fails."""
    errors = []
    for server in servers:
        try:
            server.stop()
        except Exception as exc:  # keep stopping the others
            errors.append(exc)
    if errors:
        raise errors[0]


@contextlib.contextmanager
def running_servers(n_honest: int, liars: Sequence[Offset] = (), *, ca, **kwargs):
    """Context manager around ``start_servers`` / ``stop_servers``."""
    servers = start_servers(n_honest, liars, ca=ca, **kwargs)
    try:
        yield servers
    finally:
        stop_servers(servers)
