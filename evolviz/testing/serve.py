"""`python -m evolviz.testing.serve`: the scripted server as a process, for
benchmarks and manual poking."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from .fake_server import FakeOpenAIServer
from .faults import ALL_FAULTS, Faults
from .limits import Limits

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until Ctrl-C or SIGTERM. The base URL is the first stdout line, alone, so a
    script can read it; the human note goes to stderr."""
    parser = argparse.ArgumentParser(
        prog="python -m evolviz.testing.serve",
        description="Scripted OpenAI-compatible server on loopback, for tests and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument("--jitter", type=float, default=0.0, help="extra uniform(0, J) seconds")
    parser.add_argument("--fault-rate", type=float, default=0.0, help="chance a request fails")
    parser.add_argument(
        "--kinds", default=",".join(ALL_FAULTS), help="comma-separated fault kinds to draw from"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault generator")
    parser.add_argument("--models", default="fake-model", help="comma-separated model names")
    parser.add_argument("--hang-seconds", type=float, default=30.0, help="how long 'timeout' hangs")
    parser.add_argument("--retry-after", default="0", help="Retry-After value sent with 429")
    parser.add_argument("--max-in-flight", type=int,
                        help="answer 429 to a request above this many in flight")
    parser.add_argument("--requests-per-window", type=int,
                        help="answer 429 past this many requests per window (x-ratelimit "
                             "headers on every reply)")
    parser.add_argument("--window", type=float, default=1.0, help="seconds per window")
    parser.add_argument("--evol", action="store_true",
                        help="answer as every Evol-Instruct role (evolviz.testing.evol_responder)")
    parser.add_argument("--batch-delay", type=float, metavar="S",
                        help="also serve /v1/files and /v1/batches, a batch completing S "
                             "seconds after it is created (evolviz.testing.batch_server)")
    args = parser.parse_args(argv)

    try:
        kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
        responder = None
        if args.evol:
            from evolviz.testing.evol_responder import EvolResponder

            responder = EvolResponder()
        extra = {}
        server_class: type[FakeOpenAIServer] = FakeOpenAIServer
        if args.batch_delay is not None:
            from .batch_server import FakeBatchServer

            server_class, extra = FakeBatchServer, {"batch_delay": args.batch_delay}
        server = server_class(
            responder,
            **extra,
            faults=Faults(rate=args.fault_rate, kinds=kinds, seed=args.seed),
            latency=args.latency,
            jitter=args.jitter,
            models=[m.strip() for m in args.models.split(",") if m.strip()],
            host=args.host,
            port=args.port,
            hang_seconds=args.hang_seconds,
            retry_after=args.retry_after,
            keep_requests=False,
            limits=(Limits(max_in_flight=args.max_in_flight,
                           requests_per_window=args.requests_per_window, window=args.window,
                           retry_after=args.retry_after)
                    if args.max_in_flight or args.requests_per_window else None),
        )
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))

    done = threading.Event()
    # Handle SIGINT explicitly: a shell starts background jobs with SIGINT ignored, and a
    # script that backgrounds this server must still be able to stop it with Ctrl-C's signal.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: done.set())
    with server:
        print(server.base_url, flush=True)
        print("fake OpenAI server running; Ctrl-C to stop", file=sys.stderr, flush=True)
        while not done.wait(0.5):
            pass
    print(f"served {server.stats.snapshot()}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
