"""Every benchmark runs in its quick mode, so none rots. (Their numbers are read by people,
in docs/benchmarks.md; here only that they run and print their table.)"""

import subprocess
import sys

import pytest

from conftest import ROOT

QUICK = {
    "bench_engine.py": "cand/s",
    "bench_scale.py": "panel operation on this store",
    "bench_map.py": "warm",
    "bench_local_model.py": "aggregate_tok/s",
    "bench_panel_draw.py": "ms",
    "bench_verdicts.py": "verdict accuracy",
}


@pytest.mark.slow
@pytest.mark.parametrize("script", sorted(QUICK))
def test_benchmark_quick_mode(script):
    path = ROOT / "benchmarks" / script
    if not path.exists():
        pytest.fail(f"{script} is listed but missing")
    r = subprocess.run([sys.executable, str(path), "--quick"], cwd=ROOT, capture_output=True,
                       text=True, timeout=900)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    assert QUICK[script] in r.stdout, r.stdout[-3000:]
