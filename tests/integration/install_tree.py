"""gnomon as a distribution would install it, in a private directory: `meson install
--no-rebuild --destdir` of the build directory (GNOMON_BUILD_DIR) and what meson says it
installs where. Never touches this machine's own /usr, /etc or /run; never builds (a test
must not run ninja while `meson test` does)."""
import json
import os
import shutil
import subprocess
import sys

import gnomon_test as gt


def meson_command():
    found = shutil.which("meson")
    return [found] if found else [sys.executable, "-m", "mesonbuild.mesonmain"]


def introspect(what):
    result = subprocess.run(meson_command() + ["introspect", "--" + what, gt.BUILD_DIR],
                            capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout)


def build_options():
    """Every build option's value, by name (prefix, libexecdir, sysconfdir, man, ...)."""
    return {option["name"]: option["value"] for option in introspect("buildoptions")}


def installed_files():
    """{file in the source or build tree: absolute install path} for everything installed."""
    return introspect("installed")


def install(destdir):
    """Installs into destdir; returns the CompletedProcess (check returncode)."""
    return subprocess.run(meson_command() + ["install", "-C", gt.BUILD_DIR, "--no-rebuild",
                                             "--quiet", "--destdir", destdir],
                          capture_output=True, text=True, timeout=300)


def failure(result):
    """What to say when install() failed."""
    return "%s%s\n(--no-rebuild installs what is built: run ninja -C %s first)" % (
        result.stdout, result.stderr, gt.BUILD_DIR)


def under(destdir, path):
    """An absolute install path inside destdir."""
    return os.path.join(destdir, path.lstrip("/"))


def install_path(files, basename, contains=""):
    """The install path of the one installed file named basename (and containing the
    text contains in its path); None when there is none."""
    matches = sorted({dest for dest in files.values()
                      if os.path.basename(dest) == basename and contains in dest})
    return matches[0] if len(matches) == 1 else None
