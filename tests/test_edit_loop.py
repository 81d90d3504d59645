"""The edit loop stays fast: `make unit` exists and leaves the slow tests out, and collecting the
test suite imports torch only for the test files that need it (importing torch takes seconds to
tens of seconds on a busy 2-core machine)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

COLLECT = """
import sys, pytest
code = pytest.main(["--collect-only", "-q", "-p", "no:randomly", "-o", "addopts=", "--no-rerun",
                    "tests/test_settings.py", "tests/test_config.py"])
print("TORCH IMPORTED" if "torch" in sys.modules else "NO TORCH", "collected" if code in (0, 1) else code)
"""


def test_collecting_the_light_tests_does_not_import_torch():
    r = subprocess.run([sys.executable, "-c", COLLECT], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    # (exit code 1 is allowed: the root conftest.py flags a checkout that others changed meanwhile)
    assert "NO TORCH collected" in r.stdout, (
        "collecting tests/test_settings.py and tests/test_config.py imported torch (conftest.py, "
        f"tests/conftest.py or labkit.settings imports it at the top?):\n{r.stdout[-2000:]}{r.stderr[-2000:]}")


def test_make_unit_runs_the_tests_folder_without_the_slow_ones():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nunit:", 1)[1].split("\n\n", 1)[0]
    assert "pytest tests" in recipe and '-m "not slow"' in recipe
    assert "slow:" in (ROOT / "pytest.ini").read_text(), "the marker is declared in pytest.ini"
