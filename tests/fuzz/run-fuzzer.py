#!/usr/bin/env python3
"""Runs one libFuzzer target for a bounded time and reports in TAP with its figures
(executions, edges covered, findings). Seeds are read from the committed corpus; new inputs
and any crash go to a work directory in the build tree, never into the source tree.
    run-fuzzer.py TARGET SEED_DIR DICT WORK_DIR
GNOMON_FUZZ_SECONDS (default 10) sets the time; GNOMON_FUZZ_RUNS, if set, a run count."""
import os
import re
import subprocess
import sys


def main():
    target, seeds, dictionary, work = sys.argv[1:5]
    seconds = int(os.environ.get("GNOMON_FUZZ_SECONDS", "10"))
    corpus = os.path.join(work, "corpus")
    artifacts = os.path.join(work, "artifacts") + os.sep
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(artifacts, exist_ok=True)
    args = [target, "-max_total_time=%d" % seconds, "-dict=" + dictionary,
            "-artifact_prefix=" + artifacts, "-print_final_stats=1", "-max_len=4096",
            "-timeout=10", "-rss_limit_mb=2048"]
    if "GNOMON_FUZZ_RUNS" in os.environ:
        args.append("-runs=" + os.environ["GNOMON_FUZZ_RUNS"])
    args += [corpus, seeds]
    result = subprocess.run(args, capture_output=True, text=True, timeout=seconds * 3 + 120)
    log = result.stderr
    execs = re.findall(r"stat::number_of_executed_units:\s*(\d+)", log)
    cov = re.findall(r"cov: (\d+)", log)
    findings = len([f for f in os.listdir(artifacts) if not f.startswith(".")])
    name = os.path.basename(target)
    summary = "%s: %s executions in %d s, %s edges covered, %d findings" % (
        name, execs[-1] if execs else "?", seconds, cov[-1] if cov else "?", findings)
    if result.returncode == 0 and findings == 0:
        print("ok 1 - " + summary)
        print("1..1")
        return 0
    print("not ok 1 - " + summary)
    for line in log.splitlines()[-40:]:
        print("# " + line)
    print("1..1")
    return 1


if __name__ == "__main__":
    sys.exit(main())
