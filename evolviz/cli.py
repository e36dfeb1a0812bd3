"""`evolviz`: the headless front end. Exit codes: 0 ok, 2 bad usage or input, 1 otherwise."""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from .errors import ConfigError, EvolvizError, InputError

__all__ = ["build_parser", "main"]


def _weights(values: Sequence[str]) -> dict[str, float]:
    out = {}
    for v in values:
        name, sep, w = v.partition("=")
        try:
            if not sep:
                raise ValueError
            out[name.strip()] = float(w)
        except ValueError:
            raise ConfigError(
                f"--weight {v!r}: expected OPERATOR=NUMBER, e.g. mutation=0.5"
            ) from None
    return out


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
    r.add_argument("--field", help="instruction column/key for CSV, Parquet or JSONL")
    r.add_argument("--format", dest="seed_format", help="force the seed file format")
    r.add_argument("--strict", action="store_true", help="refuse a seed file with a bad row")
    r.add_argument("--limit", type=int, help="use only the first N seeds")
    r.add_argument("--base-url", help="OpenAI-compatible endpoint; default: the local model")
    r.add_argument("--model", help="model for every role")
    r.add_argument("--evolver-model", help="model for rewriting (default: --model)")
    r.add_argument("--answer-model", help="model for answering (default: --model)")
    r.add_argument("--judge-model", help="model for judging (default: --model)")
    r.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    r.add_argument("--concurrency", type=int,
                   help="LLM calls in flight (default 8; 2 on the local model, which serves "
                        "one request at a time)")
    r.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    r.add_argument("--retries", type=int, default=5, help="retries per call")
    r.add_argument("--seed", type=int, default=0, help="RNG seed for operator choice")
    r.add_argument("--temperature", type=float, help="sampling temperature for rewrites "
                                                     "and answers")
    r.add_argument("--templates", help="folder of template files laid over the built-ins")
    r.add_argument("--weight", action="append", default=[], metavar="OP=W",
                   help="operator weight (repeatable); uniform by default")
    r.add_argument("--no-rule", action="append", default=[], metavar="NAME",
                   help="switch an elimination rule off (repeatable)")
    r.add_argument("--sorry-max-words", type=int, default=80, help="rule 2 threshold")
    r.add_argument("--judge-difficulty", action="store_true",
                   help="rate accepted instructions 1-10 with the judge")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    _gate_args(r)

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
    _gate_args(e)

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

    sl = sub.add_parser("serve-local", help="serve the embedded local model until Ctrl-C")
    sl.add_argument("--port", type=int)

    t = sub.add_parser("templates", help="list templates, or preview one filled in")
    t.add_argument("--templates", help="folder of template files laid over the built-ins")
    t.add_argument("--preview", metavar="NAME", help="template to fill in and print")
    t.add_argument("--instruction", default="Write a haiku about autumn.",
                   help="instruction to fill into --preview")
    return p


def _gate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-dedup", action="store_true",
                   help="keep exact duplicates (on by default: the earlier slot wins)")
    p.add_argument("--near-dup", type=float, metavar="THRESHOLD",
                   help="also reject near duplicates: cosine similarity >= THRESHOLD in (0, 1]")
    p.add_argument("--decontaminate", action="append", default=[], metavar="FILE",
                   help="benchmark file whose items no instruction may share an n-gram with "
                        "(repeatable; any seed format)")
    p.add_argument("--decontaminate-field", metavar="FIELD",
                   help="text column/key of the benchmark files, where one is needed")
    p.add_argument("--decontaminate-ngram", type=int, default=13, metavar="N",
                   help="words in a row that count as contamination (default 13)")


def _gate_config(args: argparse.Namespace):
    """The gates asked for, with benchmark files checked (and indexed) now, so a bad file
    stops the command before anything starts."""
    from .gates import GateConfig, load_index

    gates = GateConfig(dedup=not args.no_dedup, near_dup=args.near_dup,
                       decontaminate=tuple(args.decontaminate),
                       decontaminate_field=args.decontaminate_field,
                       decontaminate_ngram=args.decontaminate_ngram)
    index = None
    if gates.decontaminate:
        index = load_index(gates.decontaminate, gates.decontaminate_field,
                           gates.decontaminate_ngram)
        d = index.describe()
        print(f"evolviz: decontaminating against {d['items']} benchmark items "
              f"({d['ngrams']} {gates.decontaminate_ngram}-grams; {d['too_short']} items "
              f"too short to share one)", file=sys.stderr)
    return gates, index


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors already
        return int(e.code or 0)
    try:
        handler = {
            "run": cmd_run, "show": cmd_show, "export": cmd_export, "check": cmd_check,
            "map": cmd_map, "serve-local": cmd_serve_local, "templates": cmd_templates,
            "explore": cmd_explore,
        }[args.command]
        return handler(args)
    except InputError as e:
        from .textsafe import inert

        print(f"evolviz: error: {inert(str(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nevolviz: interrupted; everything finished is saved. Run the same command "
              "again to resume.", file=sys.stderr)
        return 1
    except EvolvizError as e:
        print(f"evolviz: error: {e}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:
        print(f"evolviz: error: the run store is damaged ({e}); `evolviz check STORE` "
              f"says what is wrong", file=sys.stderr)
        return 1


def cmd_run(args: argparse.Namespace) -> int:
    from .config import RunConfig
    from .progress import CliProgress
    from .rules import RuleConfig
    from .seeds import load_seeds
    from .session import Endpoint, RunSession, default_sampling
    from .templates import TemplateSet
    from .textsafe import inert

    if args.generations < 1:
        raise ConfigError("--generations must be >= 1")
    if args.concurrency is not None and args.concurrency < 1:
        raise ConfigError("--concurrency must be >= 1")
    loaded = load_seeds(args.seeds, field=args.field, format=args.seed_format,
                        strict=args.strict)
    for problem in loaded.problems[:10]:
        print(f"evolviz: skipped {problem.path}:{problem.line}: {inert(problem.reason)}",
              file=sys.stderr)
    if len(loaded.problems) > 10:
        print(f"evolviz: ... and {len(loaded.problems) - 10} more bad rows skipped",
              file=sys.stderr)
    seeds = loaded.seeds[: args.limit] if args.limit else loaded.seeds
    if not seeds:
        raise InputError(f"{args.seeds}: no usable seeds")
    templates = TemplateSet.load(args.templates)
    gates, index = _gate_config(args)

    roles = {"evolver": args.evolver_model, "answerer": args.answer_model,
             "judge": args.judge_model}
    endpoint = Endpoint(base_url=args.base_url, model=args.model,
                        role_models={r: m for r, m in roles.items() if m},
                        api_key_env=args.api_key_env, concurrency=args.concurrency,
                        timeout=args.timeout, retries=args.retries)
    sampling = default_sampling(endpoint)
    if args.temperature is not None:
        for role in ("evolver", "answerer"):
            sampling[role] = replace(sampling[role], temperature=args.temperature)
    rules = RuleConfig(sorry_max_words=args.sorry_max_words).without(args.no_rule)
    config = RunConfig(seed=args.seed, operator_weights=_weights(args.weight), rules=rules,
                       sampling=sampling, judge_difficulty=args.judge_difficulty,
                       gates=gates)
    if endpoint.local:
        print("evolviz: no --base-url: starting the embedded local model "
              "(SmolLM2-135M-Instruct)...", file=sys.stderr)

    with RunSession(args.store, seeds=seeds, config=config, templates=templates,
                    endpoint=endpoint) as session:
        _record_gate_inputs(session.store, index)
        client = session.build_client()
        store = session.store
        progress = CliProgress(store, args.generations, disable=args.no_progress)

        async def go() -> None:
            try:
                await session.evolution.run(args.generations, on_candidate=progress.candidate,
                                            on_generation=progress.generation)
            finally:
                await client.aclose()

        try:
            asyncio.run(go())
        finally:
            progress.close()
        print(render_table(store))
        print(f"{store.candidate_count()} candidates in {args.store}; "
              f"{client.tokens.total()} tokens this session; {session.cache.hits} cached "
              f"responses reused")
    return 0


def _record_gate_inputs(store, index) -> None:
    """What the dataset card needs and the store does not otherwise keep: which benchmark
    files (by sha256) the run was decontaminated against."""
    if index is not None:
        store.set_meta("gate_benchmarks", index.describe())


def render_table(store) -> str:
    from .gates import GATE_RULES
    from .rules import RULE_IDS

    rules = (*RULE_IDS, *GATE_RULES)  # the rules, then the dataset gates
    short = {"rewrite_invalid": "invalid", "no_information_gain": "r1_nogain",
             "sorry_short_answer": "r2_sorry", "stopwords_only_answer": "r3_stopw",
             "copied_prompt_wording": "r4_copied", "contaminated": "contam",
             "duplicate": "dup"}
    head = ["gen", "pool", "done", "accepted", *[short[r] for r in rules], "failed",
            "tokens", "time_s", "state"]
    rows = []
    for s in store.generation_stats():
        rows.append([s.generation, s.pool_size, s.done, s.accepted,
                     *[s.rejected.get(r, 0) for r in rules], s.failed, s.tokens,
                     f"{s.wall_time:.1f}", "done" if s.finished else "partial"])
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=False)]
    lines = ["  ".join(str(x).rjust(w) for x, w in zip(head, widths, strict=True))]
    lines += ["  ".join(str(x).rjust(w) for x, w in zip(r, widths, strict=True)) for r in rows]
    failed = {}
    for s in store.generation_stats():
        for k, v in s.failed_by.items():
            failed[k] = failed.get(k, 0) + v
    if failed:
        lines.append("failed by error class: " + ", ".join(f"{k}={v}" for k, v in
                                                          sorted(failed.items())))
    return "\n".join(lines)


def cmd_show(args: argparse.Namespace) -> int:
    from .store import RunStore

    with RunStore(args.store, create=False) as store:
        if args.candidate:
            cand = store.candidate(args.candidate)
            if cand is None:
                raise InputError(f"{args.store}: no candidate {args.candidate!r}")
            print(render_candidate(cand))
        else:
            print(render_table(store))
    return 0


def render_candidate(c: Any) -> str:
    """A candidate for the terminal; every stored string passes through `inert`."""
    from .textsafe import inert

    lines = [f"{c.id}  generation {c.generation}  operator {c.operator}  status {c.status}"
             + (f"  rejected by {c.rejected_by}" if c.rejected_by else "")
             + (f"  error {c.error_class}" if c.error_class else ""),
             f"parent {c.parent_id}: {inert(c.parent_instruction)}",
             f"instruction: {inert(c.instruction)}",
             f"answer: {inert(c.answer)}", "verdicts:"]
    lines += [f"  {'pass' if v.passed else 'FAIL'} {v.rule}: {inert(v.reason)}"
              for v in c.verdicts]
    for name, call in c.calls.items():
        lines.append(f"--- {name} ({call.model}, {call.prompt_tokens}+{call.completion_tokens}"
                     f" tokens, finish {call.finish_reason}) ---")
        for m in call.messages:
            lines.append(f"[{m['role']}] {inert(m['content'])}")
        lines.append(f"[response] {inert(call.content)}")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export
    from .store import RunStore

    gates_given = (args.no_dedup or args.near_dup is not None or args.decontaminate
                   or args.decontaminate_field or args.decontaminate_ngram != 13)
    rules_given = args.no_rule or args.sorry_max_words is not None or args.templates
    gate_flags = gates_given or rules_given
    if args.format != "hf":
        if args.include_seeds or args.thumbnail or args.rejudge or gate_flags:
            raise ConfigError("--include-seeds, --thumbnail, --rejudge and the gate "
                              "settings apply to --format hf only")
    elif args.include_rejected:
        raise ConfigError("--format hf exports the dataset: rejected rows never go in "
                          "(use --format jsonl --include-rejected to study them)")
    elif gate_flags and not args.rejudge:
        raise ConfigError("rule or gate settings given without --rejudge: an export never "
                          "re-judges a run implicitly; add --rejudge to apply them")
    with RunStore(args.store, create=False) as store:
        if args.format == "hf":
            from .export_hf import export_hf, rules_rejudger

            # Gate settings given replace the run's; none given keeps the run's gates.
            rejudge = _gate_config(args)[0] if args.rejudge and gates_given else None
            rules = None
            if rules_given:
                rules = rules_rejudger(store, args.no_rule, args.sorry_max_words,
                                       args.templates)
            n = export_hf(store, args.output, include_seeds=args.include_seeds,
                          rejudge=rejudge, thumbnail=args.thumbnail, rules_rejudge=rules)
        else:
            n = export(store, args.format, args.output,
                       include_rejected=args.include_rejected)
    print(f"wrote {n} records to {args.output}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .store import RunStore, check_store

    with RunStore(args.store, create=False) as store:
        problems = check_store(store)
    if problems:
        for p in problems:
            print(f"{args.store}: {p}")
        return 1
    print(f"{args.store}: ok")
    return 0


def cmd_map(args: argparse.Namespace) -> int:
    from .maps import map_main

    if not Path(args.store).exists():
        raise InputError(f"{args.store}: no such run store")
    return map_main(args.store, args.reference, args.output, sample=args.sample, k=args.k,
                    seed=args.seed)


def cmd_explore(args: argparse.Namespace) -> int:
    """Write the run's notebook beside it and open it in JupyterLab on 127.0.0.1."""
    from .explore_notebook import write_explore_notebook
    from .session import RunSession

    if not RunSession.has_run(args.store):
        raise InputError(f"{args.store}: no run in this store (make one with `evolviz run`)")
    notebook = write_explore_notebook(args.store, base_url=args.base_url, model=args.model,
                                      api_key_env=args.api_key_env)
    print(f"evolviz: notebook {notebook}")
    if args.no_launch:
        return 0
    command = [sys.executable, "-m", "jupyter", "lab", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={args.port}", f"--ServerApp.root_dir={notebook.parent}",
               str(notebook)]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")  # containers run as root; JupyterLab refuses then
    os.execv(sys.executable, command)
    return 0  # not reached


def cmd_serve_local(args: argparse.Namespace) -> int:
    """`evolviz serve-local [--port P]`: serve the local model until Ctrl-C; exit code.

    It always starts (or, on a busy port, reuses) a server rather than following
    `EVOLVIZ_LOCAL_BASE_URL`, since its job is to be that server. A server that dies is
    restarted, up to three times within ten minutes.
    """
    import time

    from .errors import LocalModelError
    from .local_model import BASE_URL_ENV, LocalModel
    from .local_model.supervisor import describe_exit

    lm = LocalModel(port=args.port, use_env=False)
    try:
        lm.start()
    except LocalModelError as e:
        print(f"evolviz serve-local: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        lm.stop()
        return 130
    reused = "" if lm.owned else "  (already running in another process; left running)"
    print(f"Serving {lm.model_name} at {lm.base_url}{reused}", flush=True)
    print(f"  model: {lm.model_path}", flush=True)
    if lm.owned:
        print(f"  log:   {lm.log_path}", flush=True)
    print(f"Use it with: export {BASE_URL_ENV}={lm.base_url}   "
          f"or   evolviz run ... --base-url {lm.base_url}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    deaths: list[float] = []
    try:
        while True:
            time.sleep(1.0)
            proc = lm.process
            if proc is None or proc.poll() is None:
                continue
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < 600] + [now]
            print(f"evolviz serve-local: the server {describe_exit(proc.returncode)}. "
                  f"Last lines of {lm.log_path}:\n{lm.log_tail(15)}", file=sys.stderr, flush=True)
            if len(deaths) > 3:
                print("evolviz serve-local: it died 4 times in 10 minutes; giving up.",
                      file=sys.stderr)
                lm.stop()
                return 1
            try:
                lm.ensure_running()
            except LocalModelError as e:
                print(f"evolviz serve-local: restart failed: {e}", file=sys.stderr)
                lm.stop()
                return 1
            print(f"Restarted at {lm.base_url}", flush=True)
    except KeyboardInterrupt:
        print("\nStopping the local model server...", flush=True)
    finally:
        lm.stop()
    return 0


def cmd_templates(args: argparse.Namespace) -> int:
    from .templates import TemplateSet

    templates = TemplateSet.load(args.templates)
    if args.preview:
        t = {x.name: x for x in templates.all()}.get(args.preview)
        if t is None:
            raise ConfigError(f"--preview: no template named {args.preview!r}")
        values = {p: args.instruction for p in t.placeholders}
        for m in t.render(**values):
            print(f"--- {m['role']} ---\n{m['content']}")
        return 0
    for t in templates.all():
        kind = f"{t.role}/{t.kind}" if t.kind else t.role
        print(f"{t.name:20} {kind:18} {t.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
