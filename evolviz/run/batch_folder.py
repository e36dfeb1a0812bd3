"""Batch mode through a folder: for a runner that reads and writes batch files, no API.

vLLM's offline batch runner (`vllm run-batch -i IN.jsonl -o OUT.jsonl --model M`) reads
the OpenAI batch request format and writes the result format, but serves no Files or
Batches API. `FolderBatches` is the `BatchAPI` for it: a request file is written into the
folder (`evolviz-g1-rewrite-00001.jsonl`), and its batch is complete once a result file of
the same stem appears beside it (`evolviz-g1-rewrite-00001.output.jsonl`). The runner
writes under another name and renames when done, so a half-written file is never read.

Everything else (the ledger, resuming, retries, the pipeline) is batch mode's own: lines a
result file lacks are sent again in a later file, as after an expired batch.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path

from .batch_api import RemoteBatch

__all__ = ["OUTPUT_SUFFIX", "FolderBatches"]

#: What a runner names the result file of `NAME.jsonl`: `NAME.output.jsonl`.
OUTPUT_SUFFIX = ".output.jsonl"


def _stem(name: str) -> str:
    return name[:-len(".jsonl")] if name.endswith(".jsonl") else name


class FolderBatches:
    """`BatchAPI` over a folder shared with a batch runner (see the module docstring)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.base_url = f"folder {self.folder}"

    def __repr__(self) -> str:
        return f"FolderBatches({str(self.folder)!r})"

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, self.folder / name)  # whole or absent, for the runner too

    async def upload(self, name: str, data: bytes) -> str:
        self._write(name, data)
        return name

    async def create(self, file_id: str, metadata: Mapping[str, str]) -> RemoteBatch:
        stem = _stem(file_id)
        self._write(f"{stem}.batch.json", json.dumps(
            {"id": stem, "input_file_id": file_id, "created_at": time.time(),
             "metadata": dict(metadata)}).encode())
        return await self.retrieve(stem)

    async def retrieve(self, batch_id: str) -> RemoteBatch:
        info = self.folder / f"{batch_id}.batch.json"
        created = json.loads(info.read_text()).get("created_at", 0.0) if info.exists() else 0
        output = f"{batch_id}{OUTPUT_SUFFIX}"
        if (self.folder / f"{batch_id}.cancelled").exists():
            status = "cancelled"
        elif (self.folder / output).exists():
            status = "completed"
        else:
            status = "in_progress"
        done = status != "in_progress" and (self.folder / output).exists()
        return RemoteBatch(id=batch_id, status=status, input_file_id=f"{batch_id}.jsonl",
                           output_file_id=output if done else None, created_at=created)

    async def find(self, file_id: str, since: float) -> RemoteBatch | None:
        stem = _stem(file_id)
        if (self.folder / f"{stem}.batch.json").exists():
            return await self.retrieve(stem)
        return None

    async def content(self, file_id: str) -> bytes:
        return (self.folder / file_id).read_bytes()

    async def cancel(self, batch_id: str) -> RemoteBatch:
        """The runner is not told (it has no API): the run stops waiting for this file,
        and takes whatever result it finds beside it then."""
        self._write(f"{batch_id}.cancelled", b"")
        return await self.retrieve(batch_id)

    async def aclose(self) -> None:
        return None
