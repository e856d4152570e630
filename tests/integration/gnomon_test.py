"""Shared pieces of gnomon's integration tests: TAP reporting, where the built programs
are, running them (under GNOMON_TEST_WRAPPER, e.g. valgrind, when set), and writing
configurations. Every wait here is bounded; every process started is ended by PID."""
import json
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "harness"))

BUILD_DIR = os.environ.get("GNOMON_BUILD_DIR", os.path.join(os.path.dirname(os.path.dirname(HERE)),
                                                             "build"))
AGENT = os.environ.get("GNOMON_AGENT", os.path.join(BUILD_DIR, "agent", "daemon", "gnomon-agent"))
TEST_SERVER = os.environ.get("GNOMON_TEST_SERVER",
                             os.path.join(BUILD_DIR, "tests", "nts-test-server",
                                          "gnomon-test-nts-server"))
# valgrind reports its findings with this exit status (meson.build's valgrind setup).
WRAPPER_ERROR_EXIT = 99


class Tap:
    """Test Anything Protocol output: one line per check, the plan at the end."""

    def __init__(self):
        self.count = 0
        self.failed = 0

    def ok(self, condition, name, diagnostics=""):
        self.count += 1
        if not condition:
            self.failed += 1
        print("%s %d - %s" % ("ok" if condition else "not ok", self.count, name))
        if not condition and diagnostics:
            for line in str(diagnostics).splitlines()[-40:]:
                print("# " + line)
        sys.stdout.flush()
        return condition

    def done(self):
        print("1..%d" % self.count)
        return 1 if self.failed or self.count == 0 else 0


def wrapped(argv):
    return shlex.split(os.environ.get("GNOMON_TEST_WRAPPER", "")) + list(argv)


def workdir(prefix):
    return tempfile.mkdtemp(prefix="gnomon-%s-" % prefix)


def write_config(path, sources, **agent_keys):
    """sources: list of dicts with name, host, port, operator (and optional extra keys)."""
    lines = ["[Agent]"]
    for key, value in agent_keys.items():
        lines.append("%s=%s" % (key, value))
    for source in sources:
        lines += ["", "[Source %s]" % source["name"], "Host=%s" % source["host"],
                  "Port=%d" % source["port"], "Operator=%s" % source["operator"]]
        for key, value in source.get("extra", {}).items():
            lines.append("%s=%s" % (key, value))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(path, 0o644)
    return path


def chrony_sources(servers, operators=None):
    """Config entries for harness ChronyNtsServer objects, one operator each."""
    result = []
    for i, server in enumerate(servers):
        result.append({"name": server.name, "host": "localhost", "port": server.ke_port,
                       "operator": (operators[i] if operators else "operator-%s" % server.name)})
    return result


class QueryResult:
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.json = None
        try:
            self.json = json.loads(stdout) if stdout.strip().startswith("{") else None
        except ValueError:
            pass

    def source(self, name):
        for s in (self.json or {}).get("sources", []):
            if s["name"] == name:
                return s
        return None

    def diagnostics(self):
        return "exit %d\nstdout: %s\nstderr: %s" % (self.returncode, self.stdout, self.stderr)


def run_agent(args, timeout=120):
    result = subprocess.run(wrapped([AGENT] + list(args)), capture_output=True, text=True,
                            timeout=timeout)
    return QueryResult(result.returncode, result.stdout, result.stderr)


def query(config, *extra, timeout=120):
    return run_agent(["--config", config, "--query", "--json"] + list(extra), timeout=timeout)
