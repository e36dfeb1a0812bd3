"""`evolviz export` and `evolviz map`: getting a dataset and a picture out of a run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError, InputError
from .options import gate_config

__all__ = ["cmd_export", "cmd_map"]


def cmd_export(args: argparse.Namespace) -> int:
    from ..exports.flat import export
    from ..store import RunStore

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
            from ..exports.hf import export_hf, rules_rejudger

            # Gate settings given replace the run's; none given keeps the run's gates.
            rejudge = gate_config(args)[0] if args.rejudge and gates_given else None
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


def cmd_map(args: argparse.Namespace) -> int:
    """The page and PNG written, the notes and file names on stderr, the table on stdout."""
    from ..maps import write_map

    if not Path(args.store).exists():
        raise InputError(f"{args.store}: no such run store")

    def say(message: str) -> None:
        print(f"evolviz map: {message}", file=sys.stderr)

    page = write_map(args.store, args.reference, args.output, sample=args.sample, k=args.k,
                     seed=args.seed, progress=True, note=say)
    say(f"wrote {page.html}")
    if page.png is not None:
        say(f"wrote {page.png}")
    print(page.table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0
