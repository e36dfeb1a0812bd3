"""`python -m evolviz.testing.run_batch`: an offline batch runner, as `vllm run-batch` is.

It reads an OpenAI batch request file and writes the result file the way vLLM's runner
does (one file; a failed line carries its status and an `error`), answering each line with
the scripted server's own reply code and responder, so a folder batch run (`evolviz run
--batch --batch-dir DIR`) can be tested against the same replies as a live run.

    python -m evolviz.testing.run_batch -i IN.jsonl -o OUT.jsonl
    python -m evolviz.testing.run_batch --folder DIR   # every request file lacking results
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
from collections.abc import Sequence
from pathlib import Path

from .evol_responder import EvolResponder
from .fake_server import FakeOpenAIServer
from .wire import json_bytes

__all__ = ["main", "run_file"]

_OUTPUT = ".output.jsonl"


async def run_file(source: Path, target: Path, server: FakeOpenAIServer) -> int:
    """Answer every line of `source` into `target` (written whole, then renamed)."""
    ids = itertools.count(1)
    out = []
    for raw in source.read_bytes().splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        n, body = next(ids), line.get("body") or {}
        if line.get("url") != "/v1/chat/completions":
            out.append({"id": f"vllm-{n}", "custom_id": line.get("custom_id"),
                        "response": {"status_code": 400, "request_id": f"b-{n}",
                                     "body": None},
                        "error": f"URL {line.get('url')} was used"})
            continue
        status, payload, _ = await server._answer(  # type: ignore[misc]
            None, body, str(body.get("model")), list(body.get("messages") or []))
        out.append({"id": f"vllm-{n}", "custom_id": line["custom_id"],
                    "response": {"status_code": status, "request_id": f"b-{n}",
                                 "body": json.loads(payload)}, "error": None})
    part = target.with_name(target.name + ".part")
    part.write_bytes(b"".join(json_bytes(o) + b"\n" for o in out))
    os.replace(part, target)
    return len(out)


def pending(folder: Path) -> list[tuple[Path, Path]]:
    """Request files in `folder` that have no result file yet."""
    found = []
    for f in sorted(folder.glob("*.jsonl")):
        if f.name.endswith(_OUTPUT) or f.name.startswith("."):
            continue
        target = f.with_name(f.name[:-len(".jsonl")] + _OUTPUT)
        if not target.exists():
            found.append((f, target))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evolviz.testing.run_batch",
                                     description="Offline batch runner on the scripted "
                                                 "responder (stands in for vllm run-batch).")
    parser.add_argument("-i", "--input-file")
    parser.add_argument("-o", "--output-file")
    parser.add_argument("--folder", help="answer every request file here lacking results")
    args = parser.parse_args(argv)
    server = FakeOpenAIServer(EvolResponder())  # never started: only its reply code is used
    if args.folder:
        jobs = pending(Path(args.folder))
    elif args.input_file and args.output_file:
        jobs = [(Path(args.input_file), Path(args.output_file))]
    else:
        parser.error("give -i and -o, or --folder")
    for source, target in jobs:
        n = asyncio.run(run_file(source, target, server))
        print(f"{source.name}: {n} requests answered into {target.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
