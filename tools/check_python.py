r"""Stop `make` early, with advice, when the Python that builds or runs .venv is too old.

Usage (from the Makefile): PYTHON_TO_CHECK tools/check_python.py MINIMUM MAXIMUM WHAT
  MINIMUM  the oldest Python the pinned install resolves for, e.g. 3.11 (tools/resolve_check.py)
  MAXIMUM  the newest one, e.g. 3.14 (a newer Python finds no torch wheel for the pins)
  WHAT     how this Python was found: "venv" (.venv/bin/python), "PYTHON" (make's $(PYTHON)), or
           "windows" (.venv\Scripts\python, made by hand in PowerShell)

It runs under the Python being checked, which may be very old (Oracle Linux 8 has 3.6), so it uses
only what Python 3.6 has. On failure it names an interpreter on PATH that is new enough, if there is one.
"""

import shutil
import subprocess
import sys

# Newest first: the first one found on PATH is the one the message suggests.
CANDIDATES = ["python3.14", "python3.13", "python3.12", "python3.11"]


def version_of(command):
    """(major, minor) of an interpreter on PATH, or None."""
    path = shutil.which(command)
    if not path:
        return None
    try:
        out = subprocess.check_output([path, "-c", "import sys; print('%d %d' % sys.version_info[:2])"],
                                      stderr=subprocess.DEVNULL, timeout=20)
        major, minor = out.decode().split()
        return int(major), int(minor)
    except Exception:
        return None


def usable_python(minimum, maximum):
    for command in CANDIDATES:
        found = version_of(command)
        if found and minimum <= found <= maximum:
            return command
    return None


def main(argv):
    minimum = tuple(int(part) for part in argv[1].split("."))
    maximum = tuple(int(part) for part in argv[2].split("."))
    what = argv[3] if len(argv) > 3 else "PYTHON"
    here = sys.version_info[:2]
    if minimum <= here <= maximum:
        return 0
    wanted = "%d.%d to %d.%d" % (minimum + maximum)
    this = "%s (Python %s)" % (sys.executable, sys.version.split()[0])
    if what == "windows":
        sys.stderr.write("error: .venv was made with %s; the workshop needs Python %s.\n"
                         "Remove it (Remove-Item -Recurse -Force .venv), see which Pythons you have (py --list),\n"
                         "install one from python.org if none fits, and create .venv again with it, e.g.\n"
                         "py -3.12 -m venv .venv\n" % (this, wanted))
        return 1
    suggestion = usable_python(minimum, maximum)
    if what == "venv":
        lines = ["error: .venv was made with %s; the workshop needs Python %s." % (this, wanted),
                 "Remove it and let make build it again with a Python the workshop supports:"]
        command = "rm -rf .venv && make PYTHON=%s ..." % (suggestion or "python3.12")
    else:
        lines = ["error: the workshop needs Python %s; make's PYTHON is %s." % (wanted, this)]
        command = "make PYTHON=%s ..." % (suggestion or "python3.12")
    if suggestion:
        lines.append("%s is on your PATH and supported:  %s" % (suggestion, command))
    else:
        lines.append("No python3.11 to python3.14 is on your PATH: install one (python.org, Homebrew,")
        lines.append("or your system's packages, e.g. `sudo dnf install python3.12` on Oracle Linux,")
        lines.append("`sudo apt-get install python3.12-venv` on Ubuntu), then:  %s" % command)
    sys.stderr.write("\n".join(lines) + "\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
