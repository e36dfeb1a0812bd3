"""Every benchmark runs in its quick mode, so none rots. Their numbers are read by people
(docs/benchmarks.md); here each must print its table with real measurements in it: the
table's header and, below it, rows of finite numbers, some of them non-zero."""

import math
import re
import subprocess
import sys

import pytest

from conftest import ROOT

QUICK = {
    "bench_batch.py": "cpu_ms/cand",
    "bench_engine.py": "cand/s",
    "bench_scale.py": "panel operation on this store",
    "bench_startup.py": "this tree s",
    "bench_map.py": "warm",
    "bench_local_model.py": "aggregate_tok/s",
    "bench_panel_draw.py": "ms",
    "bench_gates.py": "decontam cand/s",
    "bench_verdicts.py": "verdict accuracy",
    "bench_quantization.py": "accepted_share",
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
    out = r.stdout
    assert QUICK[script] in out, out[-3000:]
    below = out[out.index(QUICK[script]):]
    numbers = [float(x) for x in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])", below)]
    assert len(numbers) >= 3, f"no measurements under the table header:\n{below[:2000]}"
    assert all(math.isfinite(x) for x in numbers) and any(x > 0 for x in numbers), below[:2000]
    assert "nan" not in below.lower().split(), below[:2000]
