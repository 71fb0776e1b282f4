"""The gate a key closes while it is on its way to the screen (d7tui/keys_first.py)."""

from __future__ import annotations

import asyncio
import threading

from d7tui.keys_first import KeysFirst


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_key_closes_the_gate_until_it_is_drawn_or_its_hold_is_over() -> None:
    clock = Clock()
    gate = KeysFirst(hold=0.08, clock=clock)
    assert not gate.closed and gate.left() == 0
    gate.close()
    assert gate.closed and gate.left() == 0.08
    gate.open()
    assert not gate.closed
    gate.close()
    clock.now = 0.08  # a key whose frame never came: the work goes on anyway
    assert not gate.closed and gate.left() == 0


async def test_work_waits_at_a_closed_gate_and_goes_on_when_it_opens() -> None:
    gate = KeysFirst(hold=60.0)
    await asyncio.wait_for(gate.wait(), 1)  # open: at once
    gate.close()
    waiting = asyncio.ensure_future(gate.wait())
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert not waiting.done()
    gate.open()
    await asyncio.wait_for(waiting, 5)


async def test_a_closed_gate_lets_work_go_after_the_hold() -> None:
    gate = KeysFirst(hold=0.01)
    gate.close()
    await asyncio.wait_for(gate.wait(), 5)  # nobody opened it: over after 10 ms


def test_work_on_another_threads_loop_goes_on_when_the_screens_loop_opens_the_gate() -> None:
    gate = KeysFirst(hold=60.0)
    gate.close()
    started = threading.Event()
    done = threading.Event()

    def thread() -> None:
        async def work() -> None:
            started.set()
            await gate.wait()
            done.set()

        asyncio.run(work())

    runner = threading.Thread(target=thread)
    runner.start()
    assert started.wait(5)
    assert not done.wait(0.05)  # still waiting at the gate
    asyncio.run(_open(gate))
    assert done.wait(5)
    runner.join(5)


async def _open(gate: KeysFirst) -> None:
    gate.open()
