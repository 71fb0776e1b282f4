"""A loopback stand-in for the D7 Networks and Infobip status APIs: demo, tests and benchmarks
all run against it. `Simulator.start()` serves it from its own thread and event loop, so it never
blocks the process that embeds it."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future

from d7tui.simulator.api import VendorApi
from d7tui.simulator.faults import Faults, parse_fault_specs
from d7tui.simulator.lifecycles import Script, Step
from d7tui.simulator.server import HttpServer, Reply, Request
from d7tui.simulator.world import Change, World

__all__ = ["Change", "Faults", "Script", "Simulator", "Step", "parse_fault_specs"]


class Simulator:
    def __init__(
        self,
        *,
        token: str = "sim-token",
        infobip_key: str = "sim-key",
        seed: int = 0,
        speed: float = 1.0,
        latency_ms: float = 0.0,
        faults: Faults | None = None,
        whatsapp_v2: bool = True,
        whatsapp_key: str = "messages",
        sms_failure: str = "un_delivered",
        demo: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        kwargs = {"clock": clock} if clock is not None else {}
        self.world = World(seed=seed, speed=speed, sms_failure=sms_failure, **kwargs)
        self.api = VendorApi(
            self.world,
            token=token,
            infobip_key=infobip_key,
            latency_ms=latency_ms,
            faults=faults or Faults(),
            whatsapp_v2=whatsapp_v2,
            whatsapp_key=whatsapp_key,
        )
        self.server = HttpServer(self._handle)
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._demo: list[tuple[str, str, str, str]] = []
        if demo:
            from d7tui.simulator.demo import seed_demo

            self._demo = seed_demo(self)

    # -- serving -------------------------------------------------------------------------------

    async def _handle(self, req: Request) -> Reply | None:
        if req.path == "/_simulator/stats":
            return Reply(200, json.dumps(self.stats()).encode())
        return await self.api.handle(req)

    async def start_async(self, host: str = "127.0.0.1", port: int = 0) -> str:
        port = await self.server.start(host, port)
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def stop_async(self) -> None:
        await self.server.stop()

    def start(self) -> str:
        """Serve from a daemon thread with its own event loop; returns the base URL."""
        ready: Future[str] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                ready.set_result(loop.run_until_complete(self.start_async()))
            except BaseException as exc:
                ready.set_exception(exc)
                return
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            loop.close()

        self._thread = threading.Thread(target=run, name="d7tui-simulator", daemon=True)
        self._thread.start()
        return ready.result(timeout=10)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop = None
            self._thread = None

    # -- control (safe from any thread) --------------------------------------------------------

    def create_request(
        self,
        channel: str,
        recipients: list[str],
        script: Script | list[Script] | None = None,
        extra: list[dict[str, object]] | None = None,
    ) -> str:
        if channel not in ("sms", "whatsapp", "viber"):
            raise ValueError(f"not a D7 channel: {channel}")
        return self.world.create_request(channel, recipients, script, extra)  # type: ignore[arg-type]

    def create_infobip_bulk(
        self,
        recipients: list[str],
        script: Script | list[Script] | None = None,
        bulk_id: str | None = None,
    ) -> tuple[str, list[str]]:
        return self.world.create_infobip_bulk(recipients, script, bulk_id)  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)

    def now(self) -> float:
        return self.world.now()

    def set_faults(self, faults: Faults) -> None:
        with self.world.lock:
            self.api.set_faults(faults)

    @property
    def changes(self) -> list[Change]:
        with self.world.lock:
            self.world.catch_up()
            return list(self.world.changes)

    @property
    def request_count(self) -> int:
        return self.server.requests

    @property
    def connections(self) -> int:
        return self.server.connections

    @property
    def counts(self) -> dict[str, int]:
        return dict(self.api.counts)

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.server.requests,
            "connections": self.server.connections,
            "open_connections": len(self.server.open),
            "by_kind": dict(self.api.counts),
            "changes": len(self.world.changes),
        }

    def demo_targets(self) -> list[tuple[str, str, str, str]]:
        """(id, channel, id_kind, label) of the seeded demo requests."""
        return list(self._demo)
