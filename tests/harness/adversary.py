"""gnomon's adversarial NTS test server (``gnomon-test-nts-server``) from Python.

The server is a real NTS server on loopback (NTS-KE over TLS 1.3 on TCP, NTS-protected
NTPv4 on UDP) that misbehaves in one chosen way per run; see ``BEHAVIOURS`` and the
binary's ``--help``.  It only reports time (optionally shifted by ``offset_ns``); it
never sets a clock.

    with AdversarialServer(binary, ca.cert_file, ca.key_file, "lie",
                           offset_ns=2_000_000_000) as server:
        ... server.ke_port, server.ntp_port ...

``start()`` launches it (under the no-clock ``setpriv`` when available), reads its one
JSON ready line with a bounded timeout and fills ``ke_port``, ``ntp_port``, ``pid`` (and
``other_ntp_port`` for ``ke-other-port``).  ``stop()`` sends SIGTERM to that PID only and
SIGKILL after a bound.  Its stderr log goes to ``log_file`` when given, else is
discarded (``quiet=True`` silences it at the source).

Standard library only.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time
from typing import IO, List, Optional, Sequence

#: Every behaviour the server knows (``--behaviour NAME``).
BEHAVIOURS = (
    "honest", "lie",
    # NTP side
    "wrong-uid", "bad-tag", "zero-nonce", "short-nonce-unpadded", "replay", "nak",
    "no-cookies", "rate", "unsynchronized", "silent",
    # NTS-KE side
    "ke-no-cookies", "ke-malformed", "ke-oversized", "ke-error", "ke-unknown-critical",
    "ke-wrong-aead", "tls12-only", "wrong-alpn", "stall-handshake", "stall-after-handshake",
    "ke-other-port",
)

NTP_BEHAVIOURS = BEHAVIOURS[2:12]
KE_BEHAVIOURS = BEHAVIOURS[12:]

#: Run without the right to set the clock, as every test process (testing.md).
NO_CLOCK_PRIVS = ("setpriv", "--bounding-set", "-sys_time", "--inh-caps", "-sys_time")

START_TIMEOUT = 10.0  # seconds to wait for the ready line
STOP_TIMEOUT = 5.0    # seconds between SIGTERM and SIGKILL


class AdversaryError(RuntimeError):
    """The server did not start (or said something unexpected)."""


class AdversarialServer:
    """One ``gnomon-test-nts-server`` process."""

    def __init__(self, binary: str, cert: str, key: str, behaviour: str = "honest",
                 offset_ns: int = 0, *, address: str = "127.0.0.1", ke_port: int = 0,
                 ntp_port: int = 0, quiet: bool = False, log_file: Optional[str] = None,
                 wrapper: Optional[Sequence[str]] = None,
                 start_timeout: float = START_TIMEOUT) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError("unknown behaviour %r" % (behaviour,))
        if behaviour == "lie" and offset_ns == 0:
            raise ValueError("behaviour 'lie' needs a non-zero offset_ns")
        self.binary = binary
        self.cert = cert
        self.key = key
        self.behaviour = behaviour
        self.offset_ns = int(offset_ns)
        self.address = address
        self.requested_ke_port = ke_port
        self.requested_ntp_port = ntp_port
        self.quiet = quiet
        self.log_file = log_file
        # Default: setpriv when present; pass () to run the binary bare.
        if wrapper is None:
            wrapper = NO_CLOCK_PRIVS if shutil.which("setpriv") else ()
        self.wrapper = tuple(wrapper)
        self.start_timeout = start_timeout
        self.ke_port: Optional[int] = None
        self.ntp_port: Optional[int] = None
        self.other_ntp_port: Optional[int] = None
        self.pid: Optional[int] = None
        self.returncode: Optional[int] = None
        self._proc: Optional[subprocess.Popen] = None
        self._log: Optional[IO[bytes]] = None

    # ------------------------------------------------------------------
    def command(self) -> List[str]:
        cmd = [*self.wrapper, self.binary, "--cert", self.cert, "--key", self.key,
               "--address", self.address, "--ke-port", str(self.requested_ke_port),
               "--ntp-port", str(self.requested_ntp_port), "--behaviour", self.behaviour]
        if self.offset_ns:
            cmd += ["--offset-ns", str(self.offset_ns)]
        if self.quiet:
            cmd.append("--quiet")
        return cmd

    def start(self) -> "AdversarialServer":
        if self._proc is not None:
            raise AdversaryError("already started")
        if self.log_file is not None:
            self._log = open(self.log_file, "ab")
        stderr = self._log if self._log is not None else subprocess.DEVNULL
        self._proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=stderr)
        try:
            line = self._read_ready_line()
            ready = json.loads(line)
            self.ke_port = int(ready["ke_port"])
            self.ntp_port = int(ready["ntp_port"])
            self.pid = int(ready["pid"])
            if "other_ntp_port" in ready:
                self.other_ntp_port = int(ready["other_ntp_port"])
        except (ValueError, KeyError, TypeError, AdversaryError) as exc:
            self.stop()
            raise AdversaryError("%s did not start: %s" % (self.binary, exc)) from exc
        return self

    def _read_ready_line(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.start_timeout
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AdversaryError("no ready line within %.0f s" % self.start_timeout)
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                code = self._proc.poll()
                raise AdversaryError("exited (status %s) before its ready line" % code)
            data += chunk
        return data.split(b"\n", 1)[0].decode("utf-8", "replace")

    def read_log(self) -> str:
        """The server's stderr so far ("" without ``log_file``)."""
        if self.log_file is None or not os.path.exists(self.log_file):
            return ""
        with open(self.log_file, "r", errors="replace") as f:
            return f.read()

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> Optional[int]:
        """SIGTERM our process, SIGKILL it after STOP_TIMEOUT; returns its exit status."""
        proc = self._proc
        if proc is None:
            return self.returncode
        if proc.poll() is None:
            # Our own child only, by PID (the Popen object's, which with setpriv is the
            # same process: setpriv execs the server).
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT)
        self.returncode = proc.returncode
        if proc.stdout is not None:
            proc.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None
        self._proc = None
        return self.returncode

    def __enter__(self) -> "AdversarialServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def __repr__(self) -> str:
        return "AdversarialServer(%s, ke_port=%s, ntp_port=%s, pid=%s)" % (
            self.behaviour, self.ke_port, self.ntp_port, self.pid)
