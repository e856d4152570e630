#!/usr/bin/env python3
"""Checks that agent/core/ does no I/O and touches no mutable global (architecture.md),
by reading the symbols of its static library with nm:
- every undefined symbol (a call out of core) must be on the allow list: memory and
  string helpers, GnuTLS's AEAD calls, and compiler/sanitizer runtime;
- no object may define a symbol in a writable section (data, bss, common).
Prints TAP: one case per object file and check."""
import re
import subprocess
import sys

ALLOWED_UNDEFINED = re.compile(
    r"^(memcpy|memset|memcmp|memmove|memchr|strlen|strcmp|strncmp|strchr|"
    r"gnutls_aead_cipher_(init|encrypt|decrypt|deinit)|"
    r"__stack_chk_fail|__memcpy_chk|__memset_chk|__memmove_chk|"
    r"__(asan|ubsan|sanitizer|sancov|lsan|msan|tsan)_.*|__llvm_.*|__gcov_.*|__gcov0.*|"
    r"_GLOBAL_OFFSET_TABLE_)$")
# Symbols compilers and sanitizers emit themselves in writable sections: sanitizer data,
# and names no C identifier can have (clang's "switch.table.f", which is relocated, then
# read-only).
ALLOWED_WRITABLE = re.compile(r"^(__(asan|ubsan|sancov|llvm|gcov)|___asan_gen_|__odr_asan|"
                              r"__unnamed_\d+$|.*\.)")
WRITABLE_TYPES = set("DdBbCGgSsV")


def main():
    library = sys.argv[1]
    out = subprocess.run(["nm", "-A", library], check=True, capture_output=True, text=True).stdout
    objects = {}
    for line in out.splitlines():
        # "lib.a:obj.o:                 U memcpy" or "lib.a:obj.o:0000 T func"
        m = re.match(r"^[^:]+:([^:]+):\s*(?:[0-9a-fA-F]+\s+)?([A-Za-z?-])\s+(\S+)$", line)
        if not m:
            continue
        obj, kind, name = m.groups()
        objects.setdefault(obj, []).append((kind, name))
    if not objects:
        print("1..1\nnot ok 1 - no objects read from %s" % library)
        return 1
    # Calls from one core module to another stay inside core.
    defined = {name for symbols in objects.values() for kind, name in symbols
               if kind in "TtRrWw"}
    n = 0
    failed = 0
    for obj in sorted(objects):
        symbols = objects[obj]
        calls = sorted({name for kind, name in symbols
                        if kind == "U" and name not in defined
                        and not ALLOWED_UNDEFINED.match(name)})
        writable = sorted({name for kind, name in symbols
                           if kind in WRITABLE_TYPES and not ALLOWED_WRITABLE.match(name)})
        n += 1
        if calls:
            failed += 1
            print("not ok %d - %s calls outside core's allow list: %s" % (n, obj, ", ".join(calls)))
        else:
            print("ok %d - %s makes no I/O or other outside calls" % (n, obj))
        n += 1
        if writable:
            failed += 1
            print("not ok %d - %s defines mutable globals: %s" % (n, obj, ", ".join(writable)))
        else:
            print("ok %d - %s defines no mutable globals" % (n, obj))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
