"""cpu_percent is a real reading in every process, not psutil's 0.0 of a first call."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.conftest import test_database_env
from tests.monitoring.conftest import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fresh_process_reads_the_cpu_two_burning_children_use():
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(1.0)  # both children are on a core before the check looks
        done = subprocess.run([sys.executable, "manage.py", "monitor", "--json", "--local", "--check", "cpu"],
                              cwd=ROOT, env=test_database_env(), capture_output=True, text=True, timeout=60)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    assert done.returncode in (0, 1, 2), done.stderr
    (cpu,) = json.loads(done.stdout)["checks"]
    assert cpu["name"] == "cpu"
    assert cpu["values"]["cpu_percent"] > 30, cpu
