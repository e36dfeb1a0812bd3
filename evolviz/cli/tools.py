"""`evolviz explore`, `serve-local` and `templates`: the commands around a run."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import ConfigError, InputError

__all__ = ["cmd_explore", "cmd_serve_local", "cmd_templates"]


def cmd_explore(args: argparse.Namespace) -> int:
    """Write the run's notebook beside it and open it in JupyterLab on 127.0.0.1."""
    from ..run.session import RunSession
    from .explore_notebook import write_explore_notebook

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

    from ..errors import LocalModelError
    from ..local_model import BASE_URL_ENV, LocalModel
    from ..local_model.supervisor import describe_exit

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
    from ..templates import TemplateSet

    templates = TemplateSet.load(args.templates, style=args.prompt_style.replace("-", "_"))
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
