"""`evolviz`: the headless front end. Exit codes: 0 ok, 2 bad usage or input, 1 otherwise.

One module per group of commands; this one only dispatches and turns errors into exit
codes and messages that name the file, line or field at fault.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence

from ..errors import EvolvizError, InputError
from .batches import cmd_batches
from .data import cmd_export, cmd_map
from .flags import flag_message, flagged
from .parser import build_parser
from .run import cmd_run
from .show import cmd_check, cmd_show, render_candidate, render_table
from .tools import cmd_explore, cmd_serve_local, cmd_templates
from .workbench import cmd_compare, cmd_estimate, cmd_optimize

__all__ = ["build_parser", "main", "render_candidate", "render_table"]


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
            "explore": cmd_explore, "compare": cmd_compare, "estimate": cmd_estimate,
            "optimize": cmd_optimize, "batches": cmd_batches,
        }[args.command]
        return handler(args)
    except InputError as e:
        from ..textsafe import inert

        print(f"evolviz: error: {inert(flag_message(e))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nevolviz: interrupted; everything finished is saved. Run the same command "
              "again to resume.", file=sys.stderr)
        return 1
    except EvolvizError as e:
        print(f"evolviz: error: {flagged(str(e))}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as e:
        print(f"evolviz: error: the run store is damaged ({e}); `evolviz check STORE` "
              f"says what is wrong", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
