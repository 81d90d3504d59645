#!/usr/bin/env bash
# What `make test-ui` needs beyond the workshop's own packages, installed only when missing:
#   - a Chromium browser: Debian's `chromium` package (apt-get; needs root or sudo);
#   - Playwright for Python, in the workshop's virtual environment. It drives that system browser
#     (Playwright's own browser download is not used, so `playwright install` is never run).
# Safe to run again: when both are there it does nothing and prints one line.
#
# Usage: bash tools/install_ui_deps.sh [PYTHON]     (PYTHON defaults to .venv/bin/python)
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${1:-.venv/bin/python}"
CHROMIUM="${LAB_UI_CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$PYTHON" ]; then
    echo "install_ui_deps: $PYTHON not found; run \`make lab\` or \`make test\` once first to create .venv" >&2
    exit 1
fi

if [ -x "$CHROMIUM" ]; then
    echo "install_ui_deps: chromium found at $CHROMIUM"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install_ui_deps: no browser at $CHROMIUM and no apt-get here." >&2
        echo "  Install Chromium with your system's package manager, or point LAB_UI_CHROMIUM at a" >&2
        echo "  Chromium or Chrome executable." >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO="sudo"
        else
            echo "install_ui_deps: installing chromium needs root (or sudo)." >&2
            exit 1
        fi
    fi
    echo "install_ui_deps: installing Debian's chromium with apt-get (about 30 s)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
    if [ ! -x "$CHROMIUM" ]; then
        echo "install_ui_deps: apt-get installed chromium but $CHROMIUM is not there" >&2
        exit 1
    fi
fi

if "$PYTHON" -c "import playwright.sync_api" >/dev/null 2>&1; then
    echo "install_ui_deps: playwright found in $PYTHON"
else
    echo "install_ui_deps: installing playwright into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
    # PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: the pip package downloads nothing itself today; kept so
    # that nothing reaches for Playwright's browser CDN if that ever changes.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$PYTHON" -m pip install --quiet "playwright>=1.40"
fi
