#!/usr/bin/env python3
"""Checks that every C source and header follows .clang-format (style.md). Generated files
(tests/unit/vectors/) are left out. Prints TAP, one case per file."""
import pathlib
import subprocess
import sys


def main():
    clang_format, root = sys.argv[1], pathlib.Path(sys.argv[2])
    files = sorted(p for d in ("agent", "tests") for p in (root / d).rglob("*.[ch]")
                   if "vectors" not in p.parts)
    failed = 0
    for i, path in enumerate(files, 1):
        result = subprocess.run([clang_format, "--dry-run", "--Werror", str(path)],
                                capture_output=True, text=True, cwd=root)
        if result.returncode == 0:
            print("ok %d - %s" % (i, path.relative_to(root)))
        else:
            failed += 1
            first = (result.stderr.strip().splitlines() or ["differs"])[0]
            print("not ok %d - %s: %s (run clang-format -i)" % (i, path.relative_to(root), first))
    print("1..%d" % len(files))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
