"""A loopback stand-in for the D7 Networks and Infobip status APIs: the demo, the tests and the
benchmarks all run against it.

    sim = Simulator(seed=0)
    base_url = sim.start()          # its own thread and event loop: never blocks the caller's
    rid = sim.create_request("sms", ["+971501234567"])
    sim.advance(60)                 # simulated time moves; nobody sleeps
    sim.stop()

Every control method is safe to call from any thread (the world has a lock; faults are swapped
whole).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from d7tui.config import Settings
from d7tui.safety import Secret
from d7tui.simulator.accounts import Accounts
from d7tui.simulator.api import KINDS, VendorApi
from d7tui.simulator.faults import Faults, FaultSpecError, parse_fault_specs
from d7tui.simulator.infobip_reads import LOGS_PER_MINUTE
from d7tui.simulator.lifecycles import Script, Step, StepLike
from d7tui.simulator.server import HttpServer, Reply, Request
from d7tui.simulator.world import Change, ScriptArg, World

__all__ = [
    "Change",
    "FaultSpecError",
    "Faults",
    "Script",
    "Simulator",
    "Step",
    "StepLike",
    "parse_fault_specs",
]

DemoTarget = tuple[str, str, str, str]  # (id, channel, id_kind, label)


class Simulator:
    def __init__(
        self,
        *,
        token: str = "sim-token",
        infobip_key: str = "sim-infobip-key",
        seed: int = 0,
        speed: float = 1.0,
        latency_ms: float = 0.0,
        faults: Faults | None = None,
        whatsapp_v2: bool = True,
        demo: bool = False,
        whatsapp_key: str = "messages",
        sms_failure: str = "un_delivered",
        clock: Callable[[], float] | None = None,
        infobip_v3: bool = True,
        infobip_logs_per_minute: int | None = LOGS_PER_MINUTE,
    ) -> None:
        """`whatsapp_key`: the list key of the v2 WhatsApp report ("recipients" as one
        third-party catalog describes v2; v1 always says "messages"). `sms_failure`: how SMS
        failure is spelled ("un_delivered", or "undelivered" as one copy of the DLR page has it).
        `speed`: simulated seconds per real second; 0 freezes time, so only `advance` moves it
        (what tests want). `clock`: a monotonic clock to use instead of the real one (tests tie
        it to theirs). `infobip_v3=False`: `/sms/3/*` answer 404 as a proxy or an account
        without them would. `infobip_logs_per_minute`: the logs endpoints' throttling (None
        turns it off)."""
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
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
            infobip_v3=infobip_v3,
            logs_per_minute=infobip_logs_per_minute,
        )
        self.server = HttpServer(self._handle)
        self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._demo: list[DemoTarget] = []
        if demo:
            from d7tui.simulator.demo import seed_demo

            self._demo = seed_demo(self)

    # -- serving -------------------------------------------------------------------------------

    async def _handle(self, req: Request) -> Reply | None:
        if req.path == "/_simulator/stats":  # for benchmarks in another process; no auth, no faults
            return Reply(200, json.dumps(self.stats()).encode())
        return await self.api.handle(req)

    async def start_async(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on the running loop (for `d7tui simulate`); returns the base URL."""
        address, bound = await self.server.start(host, port)
        shown = f"[{address}]" if ":" in address else address
        self.base_url = f"http://{shown}:{bound}"
        return self.base_url

    async def stop_async(self) -> None:
        await self.server.stop()

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a daemon thread with its own event loop; returns the base URL."""
        if self._thread is not None:
            raise RuntimeError("the simulator is already serving")
        ready: Future[str] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop  # before `ready`: a stop() right after start() must find it
            try:
                ready.set_result(loop.run_until_complete(self.start_async(host, port)))
            except BaseException as exc:
                ready.set_exception(exc)
                loop.close()
                return
            loop.run_forever()
            try:
                loop.run_until_complete(self.stop_async())
                _cancel_all(loop)
            finally:
                loop.close()

        thread = threading.Thread(target=run, name="d7tui-simulator", daemon=True)
        thread.start()
        try:
            url = ready.result(timeout=10)
        except BaseException:
            thread.join(timeout=10)
            self._loop = None
            raise
        self._thread = thread
        return url

    def stop(self) -> None:
        """Stop serving (open connections are dropped); safe to call twice."""
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=10)

    def settings(self, **overrides: object) -> Settings:
        """d7tui's settings pointed at this simulator, with the credentials it accepts."""
        values: dict[str, object] = {
            "d7_token": Secret(self.api.token),
            "d7_base_url": self.base_url,
            "infobip_key": Secret(self.api.infobip_key),
            "infobip_base_url": self.base_url,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    # -- control (safe from any thread) --------------------------------------------------------

    def create_request(
        self,
        channel: str,
        recipients: Sequence[str],
        script: ScriptArg = None,
        extra: Sequence[dict[str, object]] | None = None,
    ) -> str:
        """A D7 request ("sms" | "whatsapp" | "viber") with one message per recipient; returns
        its request id. `script`: one list of (offset_s, status[, reason]) steps for every
        recipient, or a list of such lists, one per recipient; None draws them from the seed.
        `extra`: per-recipient fields for the body (country, originator, template_id, ...)."""
        return self.world.create_request(channel, recipients, script, extra)

    def create_infobip_bulk(
        self,
        recipients: Sequence[str],
        script: ScriptArg = None,
        bulk_id: str | None = None,
        **kwargs: object,
    ) -> tuple[str, list[str]]:
        """An Infobip bulk, one message per recipient: (bulkId, messageIds). Keyword extras go
        to World.create_infobip_bulk (sender, text, callback_data, message_ids,
        campaign_reference_id)."""
        return self.world.create_infobip_bulk(recipients, script, bulk_id, **kwargs)  # type: ignore[arg-type]

    def advance(self, seconds: float) -> None:
        """Move simulated time forward; what became due happens now, in time order."""
        self.world.advance(seconds)

    def now(self) -> float:
        """Simulated unix time."""
        return self.world.now()

    def set_faults(self, faults: Faults) -> None:
        self.api.set_faults(faults)

    @property
    def faults(self) -> Faults:
        return self.api.dice.faults

    @property
    def accounts(self) -> Accounts:
        """The simulated balances (`d7`, `infobip`): set them to test a low or empty account."""
        return self.api.accounts

    @property
    def changes(self) -> list[Change]:
        """Every status change so far, in time order (computed up to now on each read)."""
        return self.world.snapshot_changes()

    @property
    def reports_handed_out(self) -> list[tuple[str, str]]:
        """(messageId, status) of every one-time Infobip report handed out so far, in order."""
        with self.world.lock:
            return list(self.world.handed_out)

    @property
    def request_count(self) -> int:
        return self.server.requests

    @property
    def connections(self) -> int:
        """TCP connections accepted in all."""
        return self.server.connections

    @property
    def counts(self) -> dict[str, int]:
        """Requests by kind: sms, whatsapp, viber, infobip_reports, infobip_logs, send,
        balance, other, and infobip (reports + logs)."""
        counts = {kind: self.api.counts[kind] for kind in KINDS}
        counts["infobip"] = counts["infobip_reports"] + counts["infobip_logs"]
        return counts

    @property
    def infobip_calls(self) -> dict[str, int]:
        """Infobip requests by path (`/sms/3/logs`, `/sms/1/reports`, ...)."""
        return dict(self.api.infobip_paths)

    @property
    def infobip_throttled(self) -> int:
        """Logs requests refused by the 120-a-minute throttling."""
        return self.api.infobip.throttle.refused

    def stats(self) -> dict[str, object]:
        return {
            "requests": self.server.requests,
            "connections": self.server.connections,
            "open_connections": len(self.server.open),
            "by_kind": self.counts,
            "infobip_paths": self.infobip_calls,
            "infobip_throttled": self.infobip_throttled,
            "changes": len(self.world.changes),
        }

    def demo_targets(self) -> list[DemoTarget]:
        """(id, channel, id_kind, label) of the seeded demo traffic; id_kind is "request_id",
        "bulkId" or "messageId". Empty unless built with demo=True."""
        return list(self._demo)


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left (hung requests' workers) and let it finish, so closing the loop does
    not warn about pending tasks."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
