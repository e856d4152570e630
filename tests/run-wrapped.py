#!/usr/bin/env python3
"""Starts one of gnomon's own test binaries under the wrapper command named by
GNOMON_TEST_WRAPPER (e.g. valgrind), so `meson test --setup=valgrind` wraps gnomon's
binaries and never python, chrony or dbus-daemon (testing.md)."""
import os
import shlex
import sys

wrapper = shlex.split(os.environ.get("GNOMON_TEST_WRAPPER", ""))
argv = wrapper + sys.argv[1:]
os.execvp(argv[0], argv)
