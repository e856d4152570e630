"""Debian's chronyd as a measure-only NTS *client* (``chronyd -Q``).

Used by the harness self-test and as the reference for gnomon's benchmarks:
``measure()`` writes a client configuration naming the given servers, runs
``chronyd -Q -x -t LIMIT -f CONF`` under the same no-clock setpriv as the
servers, and parses chrony's one result line::

    System clock wrong by -0.000003 seconds (ignored)

``-Q`` prints the offset and exits without changing any clock; ``-x`` is
accepted with it as a second guard.  ``-u root``: otherwise chronyd drops to
Debian's ``_chrony`` user, which cannot read a private work directory.  Each run gets a fresh directory (so
``ntsdumpdir`` holds no cookies from an earlier run and every run does NTS-KE).
With ``rusage=True`` the run is wrapped in ``/usr/bin/time -v`` and the wall
time, user+system CPU and maximum RSS are returned.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from typing import Dict, Iterable, List, Optional, Sequence

from chrony_server import CHRONYD, NO_CLOCK_PRIVS, ChronyNtsServer, ensure_run_dir

TIME = "/usr/bin/time"

#: chronyd's option set that finished fastest against loopback servers.
FAST_OPTIONS = "iburst minpoll -6 maxpoll -6"

_RESULT_RE = re.compile(r"System clock wrong by ([-+0-9.eE]+) seconds")


@dataclasses.dataclass
class ClientResult:
    """Outcome of one ``chronyd -Q`` run."""

    offset: Optional[float]   # seconds, chrony's sign; None if no result
    returncode: Optional[int]
    elapsed: float            # wall seconds measured by the harness
    output: str               # chronyd's log (stderr)
    config: str
    rusage: Dict[str, float] = dataclasses.field(default_factory=dict)
    # rusage keys (with rusage=True): wall_s, user_s, sys_s, cpu_s, max_rss_kib

    @property
    def ok(self) -> bool:
        return self.offset is not None


def client_config(servers: Iterable[ChronyNtsServer], ca_file: str, workdir: str, *,
                  host: Optional[str] = None, options: str = "iburst",
                  minsources: Optional[int] = None,
                  extra_config: Sequence[str] = ()) -> str:
    """chronyd client configuration for ``servers`` (NTS with ``ca_file``),
    with ``workdir`` as ``ntsdumpdir`` and for the pid file.

    Each server is named by its own address unless ``host`` is given (e.g.
    "localhost").  chronyd keeps one source per IP address: several servers
    need distinct addresses (``start_servers(..., distinct_addresses=True)``).
    """
    lines = ["server %s %s nts port %d ntsport %d"
             % (host or s.host, options, s.ntp_port, s.ke_port) for s in servers]
    lines += [
        "ntstrustedcerts %s" % ca_file,
        "ntsdumpdir %s" % workdir,
        "pidfile %s" % os.path.join(workdir, "chronyd.pid"),
    ]
    if minsources is not None:
        lines.append("minsources %d" % minsources)
    lines += list(extra_config)
    return "\n".join(lines) + "\n"


def parse_time_v(text: str) -> Dict[str, float]:
    """Pick wall time, CPU and max RSS out of GNU time's ``-v`` report."""
    out: Dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key == "User time (seconds)":
            out["user_s"] = float(value)
        elif key == "System time (seconds)":
            out["sys_s"] = float(value)
        elif key == "Maximum resident set size (kbytes)":
            out["max_rss_kib"] = float(value)
        elif key.startswith("Elapsed (wall clock) time"):
            seconds = 0.0
            for part in value.split(":"):
                seconds = seconds * 60 + float(part)
            out["wall_s"] = seconds
    if "user_s" in out and "sys_s" in out:
        out["cpu_s"] = out["user_s"] + out["sys_s"]
    return out


def measure(servers: Iterable[ChronyNtsServer], ca_file: str, *,
            host: Optional[str] = None, options: str = "iburst",
            minsources: Optional[int] = None, extra_config: Sequence[str] = (),
            limit: int = 30, rusage: bool = False,
            state_dir: Optional[str] = None,
            parent_dir: Optional[str] = None) -> ClientResult:
    """Run ``chronyd -Q`` once against ``servers`` and return its result.

    ``limit`` is chronyd's own ``-t`` timeout in seconds; the harness kills
    the run 10 s after that if it still has not exited.  ``state_dir``, if
    given, is used as ``ntsdumpdir`` and kept, so a later run reuses the
    saved cookies instead of doing NTS-KE (chronyd names the files
    ADDRESS.nts).
    """
    ensure_run_dir()
    servers = list(servers)
    workdir = tempfile.mkdtemp(prefix="gnomon-chronyq-", dir=parent_dir)
    try:
        config = client_config(servers, ca_file, state_dir or workdir, host=host,
                               options=options,
                               minsources=minsources, extra_config=extra_config)
        conf_file = os.path.join(workdir, "client.conf")
        with open(conf_file, "w") as f:
            f.write(config)
        argv: List[str] = []
        time_file = os.path.join(workdir, "time.txt")
        if rusage:
            argv += [TIME, "-v", "-o", time_file]
        argv += NO_CLOCK_PRIVS + ["--pdeathsig", "TERM",
                                  CHRONYD, "-Q", "-x", "-u", "root", "-t", str(limit),
                                  "-f", conf_file]
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "FAKETIME")}
        start = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env=env,
                                start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=limit + 10)
        except subprocess.TimeoutExpired:
            # Our own process group (start_new_session): time, setpriv/chronyd.
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate(timeout=10)
        elapsed = time.monotonic() - start
        match = _RESULT_RE.search(output or "")
        usage: Dict[str, float] = {}
        if rusage and os.path.exists(time_file):
            with open(time_file) as f:
                usage = parse_time_v(f.read())
        return ClientResult(offset=float(match.group(1)) if match else None,
                            returncode=proc.returncode, elapsed=elapsed,
                            output=output or "", config=config, rusage=usage)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
