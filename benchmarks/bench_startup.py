"""Start-up of the command line: `evolviz --help` and `evolviz show` on a small stored run.

Why it matters: `--help` and `show` are what a person types most, and both used to pay for
importing openai and pandas (0.75 s) before printing a line. Each command is started as a
fresh process, as a user starts it; the table gives the median wall time and the peak
resident memory of each, and the modules slowest to import in one run (`python -X importtime`).

`--before PATH` adds a column for another checkout of the repository (for example the
commit before issue 22), run from its own tree with this venv, alternated with this one
so that both see the same machine load.

    python benchmarks/bench_startup.py                      # 9 starts of each command
    python benchmarks/bench_startup.py --before ../old-tree # side by side with a checkout
    python benchmarks/bench_startup.py --quick              # CI: 3 starts, checks it runs
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parents[1]


def make_store(tree: Path, path: Path) -> None:
    """A small stored run to `show`: one generation of the demo seeds on the loopback
    server (made once, with the tree under test's own code)."""
    script = (
        "import sys\n"
        "from evolviz.testing import FakeOpenAIServer\n"
        "from evolviz.testing.evol_responder import EvolResponder\n"
        "from evolviz.cli import main\n"
        "with FakeOpenAIServer(EvolResponder()) as s:\n"
        "    sys.exit(main(['run', sys.argv[1], '--generations', '1', '--store', sys.argv[2],\n"
        "                   '--base-url', s.base_url, '--model', 'fake-model', '--no-progress']))\n"
    )
    seeds = tree / "seeds" / "tiny.txt"
    subprocess.run([sys.executable, "-c", script, str(seeds), str(path)], cwd=tree,
                   env=env_for(tree), check=True, capture_output=True, text=True)


def env_for(tree: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # set to anything, it turns the .pyc cache off
    return env


def start(tree: Path, args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one fresh `python -m evolviz ARGS`."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "evolviz", *args], cwd=tree,
                            env=env_for(tree), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"evolviz {' '.join(args)} failed in {tree}: "
                         f"{proc.stderr.read().decode()[-2000:]}")
    proc.stderr.close()
    proc.returncode = 0  # reaped by wait4 above
    return wall, usage.ru_maxrss / 1024


def slowest_imports(tree: Path, args: list[str], n: int = 6) -> list[tuple[str, float]]:
    """The modules whose own import code costs most (self time, -X importtime)."""
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "evolviz", *args],
                       cwd=tree, env=env_for(tree), capture_output=True, text=True)
    costs = []
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            costs.append((m.group(2), int(m.group(1)) / 1e6))
    return sorted(costs, key=lambda kv: -kv[1])[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--before", type=Path, help="another checkout to compare with")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    repeat = 3 if a.quick else a.repeat
    trees = {"this tree": ROOT}
    if a.before is not None:
        trees["before"] = a.before.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        stores = {}
        for label, tree in trees.items():
            stores[label] = Path(tmp) / f"{label.replace(' ', '_')}.db"
            make_store(tree, stores[label])
        for label, tree in trees.items():  # a first start compiles: not what is timed
            start(tree, ["show", str(stores[label])])
        commands = {"--help": lambda label: ["--help"],
                    "show": lambda label: ["show", str(stores[label])]}
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(repeat):  # alternated, so the trees share the machine's moods
            for name, args in commands.items():
                for label, tree in trees.items():
                    runs.setdefault((name, label), []).append(start(tree, args(label)))
        print(f"# evolviz start-up: {platform.python_version()}, {cpu_model()}, "
              f"{os.cpu_count()} CPUs, medians of {repeat} fresh processes\n")
        head = "| command | " + " | ".join(f"{t} s | {t} MiB" for t in trees)
        if "before" in trees:
            head += " | this / before"
        print(head + " |")
        print("|---|" + "---:|" * (2 * len(trees) + ("before" in trees)))
        for name in commands:
            cells, walls = [], {}
            for label in trees:
                samples = runs[(name, label)]
                walls[label] = statistics.median(s[0] for s in samples)
                mib = statistics.median(s[1] for s in samples)
                cells += [f"{walls[label]:.3f}", f"{mib:.0f}"]
            if "before" in trees:
                cells.append(f"{walls['this tree'] / walls['before']:.2f}x")
            print(f"| evolviz {name} | " + " | ".join(cells) + " |")
        print("\nmodules slowest to import in `evolviz show` (this tree, self time from "
              "-X importtime):")
        for mod, secs in slowest_imports(ROOT, commands["show"]("this tree")):
            print(f"  {mod:<32} {secs * 1000:.1f} ms")


if __name__ == "__main__":
    main()
