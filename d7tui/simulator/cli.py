"""`d7tui simulate`: serve the simulator on loopback until Ctrl-C (or SIGTERM), then exit 0."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from d7tui.simulator.faults import SPEC_HELP, Faults, FaultSpecError, parse_fault_specs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="a loopback address or name (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    parser.add_argument(
        "--latency-ms", type=float, default=0.0, help="added to every answer (default 0)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help=f"repeatable, comma-separated: {SPEC_HELP}",
    )
    parser.add_argument("--seed", type=int, default=0, help="lifecycles and faults (default 0)")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    parser.add_argument("--token", default="sim-token", help="the D7 token it accepts")
    parser.add_argument(
        "--infobip-key", default="sim-infobip-key", help="the Infobip key it accepts"
    )
    parser.add_argument(
        "--no-whatsapp-v2",
        action="store_true",
        help="serve only /whatsapp/v1/report (v2 answers FastAPI's 404), as an older server might",
    )
    parser.add_argument("--demo", action="store_true", help="seed the demo requests")


def _fail(message: str) -> int:
    sys.stderr.write(f"d7tui simulate: {message}\n")
    return 2


def run(args: argparse.Namespace) -> int:
    from d7tui.simulator import Simulator

    try:
        faults = parse_fault_specs(args.fault, base=Faults(seed=args.seed))
    except FaultSpecError as exc:
        return _fail(str(exc))
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be 0..65535, not {args.port}")
    if not args.latency_ms >= 0:
        return _fail(f"--latency-ms must be >= 0, not {args.latency_ms}")
    if not args.speed > 0:
        return _fail(f"--speed must be > 0, not {args.speed}")
    sim = Simulator(
        token=args.token,
        infobip_key=args.infobip_key,
        seed=args.seed,
        speed=args.speed,
        latency_ms=args.latency_ms,
        faults=faults,
        whatsapp_v2=not args.no_whatsapp_v2,
        demo=args.demo,
    )

    async def serve() -> int:
        try:
            url = await sim.start_async(args.host, args.port)
        except (OSError, ValueError) as exc:
            return _fail(f"cannot serve on {args.host}:{args.port}: {exc}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Our own handlers: a clean stop even where SIGINT was inherited as ignored (a
            # background job of a non-interactive shell). Not on Windows: KeyboardInterrupt.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
        try:
            print(
                f"d7tui simulator serving on {url}   D7_BASE_URL={url} INFOBIP_BASE_URL={url} "
                f"D7_API_TOKEN={args.token} INFOBIP_API_KEY={args.infobip_key}",
                flush=True,
            )
            for ident, channel, kind, label in sim.demo_targets():
                print(f"  {channel:9} {kind:10} {ident}  {label}", flush=True)
            if faults.any:
                print(f"  faults: {faults}", flush=True)
        except OSError:  # nobody reads our output (a closed pipe, a full disk): keep serving
            from d7tui.stdio import silence_stdout

            silence_stdout()  # and no complaint about it at exit
        try:
            await stop.wait()
        finally:
            await sim.stop_async()
        return 0

    try:
        return asyncio.run(serve())
    except KeyboardInterrupt:
        return 0
