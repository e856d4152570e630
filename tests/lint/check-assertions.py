#!/usr/bin/env python3
"""Every assertion in agent/ (g_assert*, assert, g_return*_if_fail, g_error) is listed in
docs/assertions.md with why no input reaches it (issue 7). Compares, per file and
function, how many the code has with how many rows the table has; a new assertion fails
until it is reviewed there. Prints TAP, one case per file and function."""
import collections
import pathlib
import re
import sys

ASSERTION = re.compile(
    r"\b(g_assert\w*|assert|g_return_val_if_fail|g_return_if_fail|g_error)\s*\(")
# A function definition starts in column 0: return type, name, "(" (style: one line).
DEFINITION = re.compile(
    r"^(?!static const\b|return\b|typedef\b)[A-Za-z_][\w \*]*?\b([A-Za-z_]\w*)\s*\(")
ROW = re.compile(r"^\|\s*(agent/\S+)\s*\|\s*(\w+)\s*\|")


def in_code(root):
    found = collections.Counter()
    for path in sorted((root / "agent").rglob("*.[ch]")):
        function = None
        comment = False
        for line in path.read_text().splitlines():
            code = line
            if comment:
                if "*/" not in code:
                    continue
                code, comment = code.split("*/", 1)[1], False
            code = re.sub(r"/\*.*?\*/", "", code)
            if "/*" in code:
                code, comment = code.split("/*", 1)[0], True
            code = re.sub(r'"(\\.|[^"\\])*"', '""', code)
            m = DEFINITION.match(code)
            if m and not code.rstrip().endswith(";"):
                function = m.group(1)
            for _ in ASSERTION.finditer(code):
                found[(str(path.relative_to(root)), function)] += 1
    return found


def in_table(root):
    listed = collections.Counter()
    for line in (root / "docs" / "assertions.md").read_text().splitlines():
        m = ROW.match(line)
        if m:
            listed[(m.group(1), m.group(2))] += 1
    return listed


def main():
    root = pathlib.Path(sys.argv[1])
    code, table = in_code(root), in_table(root)
    failed = 0
    keys = sorted(set(code) | set(table), key=lambda k: (k[0], k[1] or ""))
    for i, (path, function) in enumerate(keys, 1):
        n_code, n_table = code[(path, function)], table[(path, function)]
        name = "%s: %s" % (path, function)
        if n_code == n_table:
            print("ok %d - %s: %d assertion(s), all reviewed" % (i, name, n_code))
        else:
            failed += 1
            print("not ok %d - %s: %d in the code, %d in docs/assertions.md" %
                  (i, name, n_code, n_table))
    if not keys:
        print("ok 1 - no assertions in agent/")
        keys = [None]
    print("1..%d" % len(keys))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
