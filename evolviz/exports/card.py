"""The dataset card (README.md with YAML metadata) of an hf export.

Everything in it is read from the run store (its meta and its candidates), so a card
cannot claim settings the run did not use. The YAML carries the numbers for machines (the
Hub shows `configs`; the `evolviz` block is ours); the body says the same for people.
Stored text (seed file names, model names) is LLM- or user-supplied and goes in through
`yaml.safe_dump` and code spans, never raw into markup.
"""

from __future__ import annotations

import json
import time
from typing import Any

import yaml

from ..gates import GateConfig
from ..store import RunStore

__all__ = ["dataset_card", "size_category"]


def size_category(n: int) -> str:
    for bound, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < bound:
            return label
    return "10M<n<100M"


def _seeds(store: RunStore) -> dict[str, Any]:
    rows = store.seed_rows()
    files = sorted({r["source"] for r in rows if r["source"]})
    return {"count": len(rows), "files": files,
            "fingerprint": store.get_meta("seeds_fingerprint")}


def _code(text: Any) -> str:
    s = str(text).replace("`", "'").replace("\n", " ").replace("|", "\\|")
    return f"`{s}`"


def diversity(texts_by_generation: dict[int, list[str]]) -> dict[str, Any] | None:
    """Diversity of the exported instructions, only when it is cheap: every one of them is
    already in the embedding cache (a map of the run was drawn), so no model is loaded.
    Otherwise None, and the card says how to get the numbers."""
    from ..embeddings.diversity import mean_pairwise_cosine_distance, vendi_score
    from ..embeddings.encoder import Encoder, default_cache_root

    if not (default_cache_root() / "embeddings" / "embeddings.sqlite").exists():
        return None
    everything = [t for ts in texts_by_generation.values() for t in ts]
    if len(everything) < 2:
        return None
    with Encoder() as enc:
        if not enc.cached(everything).all():
            return None
        vecs = enc.encode(everything)
    out: dict[str, Any] = {"model": enc.model_id, "per_generation": {}}
    at = 0
    for g, ts in sorted(texts_by_generation.items()):
        part = vecs[at: at + len(ts)]
        at += len(ts)
        out["per_generation"][str(g)] = {
            "n": len(ts), "vendi_score": round(vendi_score(part), 3),
            "mean_pairwise_cosine_distance": round(mean_pairwise_cosine_distance(part), 4)}
    out["all"] = {"n": len(everything), "vendi_score": round(vendi_score(vecs), 3),
                  "mean_pairwise_cosine_distance": round(
                      mean_pairwise_cosine_distance(vecs), 4)}
    return out


def dataset_card(store: RunStore, summary: dict[str, Any], *, rows: int, shards: list[str],
                 include_seeds: bool, rejudge: GateConfig | None,
                 rules_rejudged: dict[str, Any] | None,
                 thumbnail: str | None) -> str:

    config = store.get_meta("config") or {}
    gates = rejudge.to_dict() if rejudge is not None else GateConfig.from_dict(
        config.get("gates")).to_dict()
    meta = {
        "store": store.path.name,
        "exported_at": now_iso(),
        "rows": rows,
        "include_seeds": include_seeds,
        "rejudged": ({"gates": rejudge.to_dict() if rejudge else None,
                      "rules": rules_rejudged} if rejudge or rules_rejudged else None),
        "seeds": _seeds(store),
        "models": summary["models"],
        "templates": _template_hashes(store),
        "operators": store.get_meta("operators"),
        "run_seed": config.get("seed"),
        "operator_weights": config.get("operator_weights"),
        "sampling": config.get("sampling"),
        "rules": rules_rejudged or config.get("rules"),
        "gates": gates,
        "benchmarks": store.get_meta("gate_benchmarks"),
        "per_generation": summary["per_generation"],
        "acceptance_by_operator": summary["acceptance_by_operator"],
        "rejections_by_rule": summary["rejections_by_rule"],
        "diversity": summary.get("diversity"),
    }
    header = {
        "pretty_name": f"Evol-Instruct run {store.path.stem}",
        "tags": ["evol-instruct", "synthetic", "evolviz"],
        "task_categories": ["text-generation"],
        "size_categories": [size_category(rows)],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": "train", "path": "data/train-*.parquet"}]}],
        "evolviz": meta,
    }
    out = ["---", yaml.safe_dump(header, sort_keys=False, allow_unicode=True).rstrip(), "---",
           "", f"# Evol-Instruct run `{store.path.stem}`", "",
           f"{rows} instruction/answer pairs evolved with "
           f"evolviz (Evol-Instruct, Xu et al. 2023) from "
           f"{meta['seeds']['count']} seeds"
           + (", seeds included as generation 0 (they have no answer)" if include_seeds
              else "") + ". Every row passed every rule below; rejected candidates are "
           "not in the data.", ""]
    if meta["rejudged"]:
        out += ["**Re-judged at export** with settings other than the run's (see "
                "`evolviz.rejudged` in the metadata); the run's own outcome differs.", ""]
    if thumbnail:
        out += [f"![map of the run]({thumbnail})", ""]
    out += ["## Columns", "",
            "| column | meaning |", "|---|---|",
            "| `id`, `parent_id`, `seed_id` | lineage: follow `parent_id` back to the seed |",
            "| `generation`, `slot`, `operator` | when and by which evolving prompt |",
            "| `instruction`, `input`, `output` | the pair (Alpaca layout) |",
            "| `difficulty` | judge's 1-10 rating, when the run asked for one |",
            "| `rules_passed` | the rules and gates this row was checked by and passed |",
            "| `models` | model per call (JSON) |", ""]
    out += ["## How it was made", "",
            f"- Seeds: {meta['seeds']['count']} from "
            f"{', '.join(_code(f) for f in meta['seeds']['files']) or 'an unnamed source'}",
            "- Models: " + "; ".join(f"{role}: {', '.join(_code(m) for m in ms)}"
                                     for role, ms in meta["models"].items()),
            f"- Operators: {', '.join(_code(o) for o in meta['operators'] or [])}",
            f"- Sampling: {_code(json.dumps(meta['sampling'], sort_keys=True))}",
            f"- Rules: {_code(json.dumps(meta['rules'], sort_keys=True))}",
            f"- Dataset gates: {_code(json.dumps(gates, sort_keys=True))}", ""]
    if meta["templates"]:
        out += ["| template | role | sha256 |", "|---|---|---|"]
        out += [f"| {_code(t.get('name'))} | {_code(t.get('role'))} | "
                f"{_code(str(t.get('sha256'))[:16])} |" for t in meta["templates"]]
        out.append("")
    out += ["## Generations", "", "| generation | candidates | accepted | rejected | failed |",
            "|---|---|---|---|---|"]
    out += [f"| {g['generation']} | {g['candidates']} | {g['accepted']} | {g['rejected']} | "
            f"{g['failed']} |" for g in meta["per_generation"]]
    out += ["", "## Acceptance by operator", "", "| operator | candidates | accepted | rate |",
            "|---|---|---|---|"]
    out += [f"| {_code(op)} | {n['candidates']} | {n['accepted']} | {n['rate']:.1%} |"
            for op, n in meta["acceptance_by_operator"].items()]
    out += ["", "## Rejections by rule", "", "| rule | rejected |", "|---|---|"]
    out += [f"| {_code(r)} | {n} |" for r, n in meta["rejections_by_rule"].items()]
    out += ["", "## Diversity", ""]
    div = meta["diversity"]
    if div:
        out += [f"Embeddings: {_code(div['model'])}.", "",
                "| generation | n | Vendi score | mean pairwise cosine distance |",
                "|---|---|---|---|"]
        out += [f"| {g} | {d['n']} | {d['vendi_score']} | {d['mean_pairwise_cosine_distance']} "
                f"|" for g, d in [*div["per_generation"].items(), ("all", div["all"])]]
    else:
        out.append("Not computed: the instructions' embeddings were not cached. Draw a map "
                   "of the run (`evolviz map`) and export again to include them.")
    out += ["", "## Loading", "", "```python", "from datasets import load_dataset",
            'ds = load_dataset("path/to/this/folder")  # or the Hub repo id once pushed',
            "```", ""]
    return "\n".join(out)


def _template_hashes(store: Any) -> list[dict[str, Any]]:
    """Each template the run holds, with the sha256 of its file form: what a reader needs to
    know whether two datasets were made with the same prompts."""
    import hashlib

    from ..run.session import stored_templates

    return [{"name": t.name, "role": t.role, "kind": t.kind, "path": t.path,
             "sha256": hashlib.sha256(t.to_toml().encode("utf-8")).hexdigest()}
            for t in stored_templates(store).all()]


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
