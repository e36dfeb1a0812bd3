"""The command line's grammar: every command and its options, in one place to read."""

from __future__ import annotations

import argparse

from .options import add_prices, batch_options, budget_options, gate_options, run_options

__all__ = ["build_parser"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="evolviz",
        description="Evol-Instruct you can see into: evolve instructions generation by "
                    "generation and keep every prompt, response and verdict.",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="evolve a seed set (resumes when the store exists)")
    r.add_argument("seeds", help="seed file: Alpaca JSON/JSONL, ShareGPT, Self-Instruct, "
                                 ".txt, or CSV/Parquet/JSONL with --field")
    r.add_argument("--store", required=True, help="run store (SQLite file)")
    r.add_argument("--generations", type=int, required=True, help="total generations")
    run_options(r)
    budget_options(r)
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    gate_options(r)
    batch_options(r)

    b = sub.add_parser("batches", help="a batch run's batches: stage, state, requests, "
                                       "tokens, cost; --cancel cancels the open ones")
    b.add_argument("store", help="run store made by `evolviz run --batch`")
    b.add_argument("--cancel", action="store_true",
                   help="cancel every open batch (a run polling them stops cleanly, "
                        "keeping what finished)")
    b.add_argument("--base-url", help="with --cancel: the endpoint the batches went to")
    b.add_argument("--batch-dir", metavar="DIR", help="with --cancel: the folder of a "
                                                      "--batch-dir run")
    b.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (never written anywhere)")
    b.add_argument("--json", action="store_true", help="print the listing as JSON")
    add_prices(b)

    es = sub.add_parser("estimate", help="project a full run's calls, tokens, cost and "
                                         "time from a pilot, before paying for it")
    es.add_argument("seeds", help="the seed file the full run will use")
    es.add_argument("--generations", type=int, required=True, help="total generations")
    es.add_argument("--pilot", type=int, default=20, metavar="K",
                    help="seeds evolved for one generation in a scratch store (default 20)")
    es.add_argument("--from-store", metavar="DB",
                    help="project from this run store's generation 1 instead of a pilot")
    es.add_argument("--json", action="store_true", help="print the projection as JSON")
    run_options(es)
    add_prices(es)

    op = sub.add_parser("optimize", help="let the evolver LLM revise an operator's template "
                                         "from its failures; keep only what tests better")
    op.add_argument("seeds", help="seed file; a dev slice of it is evolved at each step")
    op.add_argument("--operator", required=True, help="the operator template to revise")
    op.add_argument("--store", required=True, help="new store for every call and step")
    op.add_argument("--steps", type=int, default=3, help="revision steps (default 3)")
    op.add_argument("--dev", type=int, default=30, help="dev seeds (default 30)")
    op.add_argument("--out", metavar="DIR", help="write the kept template here, for "
                                                 "--templates DIR")
    op.add_argument("--json", action="store_true", help="print the steps as JSON")
    run_options(op)

    s = sub.add_parser("show", help="per-generation table of a run, or one candidate")
    s.add_argument("store")
    s.add_argument("--candidate", metavar="ID", help="print one candidate's full record")

    e = sub.add_parser("export", help="write the dataset")
    e.add_argument("store")
    e.add_argument("--format", required=True, choices=["alpaca", "sharegpt", "jsonl",
                                                       "parquet", "hf"])
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--include-rejected", action="store_true")
    e.add_argument("--include-seeds", action="store_true",
                   help="hf: add the seeds as generation 0")
    e.add_argument("--thumbnail", metavar="PNG", help="hf: a map image for the dataset card")
    e.add_argument("--rejudge", action="store_true",
                   help="hf: re-judge with the rule/gate settings below, which replace the "
                        "run's (a what-if made explicit; without it the run's own verdicts "
                        "are exported)")
    e.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="hf with --rejudge: re-judge with this rule off (repeatable)")
    e.add_argument("--sorry-max-words", type=int, help="hf with --rejudge: rule 2 threshold")
    e.add_argument("--templates", help="hf with --rejudge: the run's template folder")
    gate_options(e)

    c = sub.add_parser("check", help="verify a store's integrity")
    c.add_argument("store")

    m = sub.add_parser("map", help="t-SNE/k-means figure of a run against references")
    m.add_argument("store")
    m.add_argument("--reference", help="reference folder (default $EVOLVIZ_REFERENCE_DIR)")
    m.add_argument("-o", "--output", required=True, help="figure file (.html)")
    m.add_argument("--sample", type=int, default=1000, help="references per set")
    m.add_argument("-k", type=int, default=20, help="k-means clusters")
    m.add_argument("--seed", type=int, default=0)

    x = sub.add_parser("explore", help="open a stored run in JupyterLab (its own notebook)")
    x.add_argument("store", help="run store made by `evolviz run` or by a panel")
    x.add_argument("--base-url", help="endpoint to continue on; default: the local model")
    x.add_argument("--model", help="model for every role")
    x.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (never written anywhere)")
    x.add_argument("--port", type=int, default=8888, help="JupyterLab's port")
    x.add_argument("--no-launch", action="store_true",
                   help="write the notebook and print its path; do not start JupyterLab")

    cp = sub.add_parser("compare", help="two runs side by side, with intervals and "
                                          "significance flags")
    cp.add_argument("a", help="run store A (the baseline)")
    cp.add_argument("b", help="run store B")
    cp.add_argument("--json", action="store_true", help="print the report as JSON")
    add_prices(cp)

    sl = sub.add_parser("serve-local", help="serve the embedded local model until Ctrl-C")
    sl.add_argument("--port", type=int)

    t = sub.add_parser("templates", help="list templates, or preview one filled in")
    t.add_argument("--templates", help="folder of template files laid over the built-ins")
    t.add_argument("--prompt-style", choices=["few-shot", "chat"], default="chat",
                   help="which built-in templates (default chat)")
    t.add_argument("--preview", metavar="NAME", help="template to fill in and print")
    t.add_argument("--instruction", default="Write a haiku about autumn.",
                   help="instruction to fill into --preview")
    return p
