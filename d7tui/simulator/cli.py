"""`d7tui simulate`: serve the simulator on loopback until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import sys

from d7tui.simulator.faults import FaultSpecError, parse_fault_specs


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port (default 8787)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every answer")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="SPEC",
        help="e.g. 5xx=0.3, 429=0.1, timeout=0.05, malformed=0.05, "
        "retry-after=2, retry-after-date, burst-every=100, burst-len=10, hostile",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per second")
    parser.add_argument("--token", default="sim-token", help="the D7 token it accepts")
    parser.add_argument("--infobip-key", default="sim-key", help="the Infobip key it accepts")
    parser.add_argument(
        "--no-whatsapp-v2",
        action="store_true",
        help="serve only /whatsapp/v1/report, as some servers might",
    )
    parser.add_argument("--demo", action="store_true", help="seed the demo requests")


def run(args: argparse.Namespace) -> int:
    from d7tui.simulator import Simulator

    try:
        faults = parse_fault_specs(args.fault)
    except FaultSpecError as exc:
        sys.stderr.write(f"d7tui simulate: {exc}\n")
        return 2
    if not 0 <= args.port <= 65535 or args.latency_ms < 0 or args.speed <= 0:
        sys.stderr.write("d7tui simulate: --port, --latency-ms or --speed out of range\n")
        return 2
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

    async def serve() -> None:
        try:
            url = await sim.start_async(args.host, args.port)
        except (OSError, ValueError) as exc:
            sys.stderr.write(f"d7tui simulate: cannot serve on {args.host}:{args.port}: {exc}\n")
            raise SystemExit(2) from None
        print(
            f"simulator serving on {url}   D7_BASE_URL={url} INFOBIP_BASE_URL={url} "
            f"D7_API_TOKEN={args.token} INFOBIP_API_KEY={args.infobip_key}",
            flush=True,
        )
        for ident, channel, kind, label in sim.demo_targets():
            print(f"  {channel:9} {kind:10} {ident}  {label}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return 0
    return 0
