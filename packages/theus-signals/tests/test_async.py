"""asyncio receivers: arecv, async iteration, cross-thread wakeups, cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest

from theus_signals import Closed, Lagged, SignalHub


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def test_arecv_returns_queued_messages_without_waiting():
    hub = SignalHub()
    sub = hub.subscribe()
    for i in range(3):
        hub.publish("t", i)

    async def main():
        return [(await sub.arecv()).payload for _ in range(3)]

    assert run(main()) == [0, 1, 2]


def test_arecv_waits_for_a_publish_from_the_same_loop():
    hub = SignalHub()
    sub = hub.subscribe()

    async def main():
        asyncio.get_running_loop().call_later(0.02, hub.publish, "t", "hello")
        return (await sub.arecv()).payload

    assert run(main()) == "hello"


def test_async_iteration_from_a_publisher_thread_in_order_until_close():
    hub = SignalHub(capacity=16, overflow="block")
    sub = hub.subscribe("data.*")
    total = 20_000

    def produce():
        for i in range(total):
            hub.publish("data.x", i)
        hub.close()

    async def main():
        worker = threading.Thread(target=produce)
        worker.start()
        got = [msg.payload async for msg in sub]
        worker.join()
        return got

    assert run(main()) == list(range(total))


def test_one_thread_hop_per_park_not_per_message():
    hub = SignalHub(capacity=100_000)
    sub = hub.subscribe()
    calls = []

    async def main():
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counting(*args, **kwargs):
            calls.append(args)
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
        parked = asyncio.ensure_future(sub.arecv())
        await asyncio.sleep(0.01)  # the receiver is parked now

        def burst():
            for i in range(1_000):
                hub.publish("t", i)

        worker = threading.Thread(target=burst)
        worker.start()
        worker.join()
        first = await parked
        rest = [(await sub.arecv()).payload for _ in range(999)]
        return first.payload, rest

    first, rest = run(main())
    assert first == 0 and rest == list(range(1, 1_000))
    assert len(calls) == 1


def test_cancelled_arecv_loses_nothing_and_leaves_no_waiter():
    hub = SignalHub()
    sub = hub.subscribe()

    async def main():
        task = asyncio.ensure_future(sub.arecv())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert sub._waiting == 0 and not sub._afutures
        hub.publish("t", 1)
        return (await sub.arecv()).payload

    assert run(main()) == 1


def test_several_async_receivers_on_one_subscription_share_the_stream():
    hub = SignalHub(capacity=1_000)
    sub = hub.subscribe()

    async def worker(out):
        async for msg in sub:
            out.append(msg.payload)

    async def main():
        a, b = [], []
        tasks = [asyncio.ensure_future(worker(a)), asyncio.ensure_future(worker(b))]
        await asyncio.sleep(0.01)
        for i in range(200):
            hub.publish("t", i)
            if i % 50 == 0:
                await asyncio.sleep(0)
        hub.close()
        await asyncio.gather(*tasks)
        return a, b

    a, b = run(main())
    assert sorted(a + b) == list(range(200))


def test_arecv_raises_lagged_then_continues_and_closed_at_end():
    hub = SignalHub(capacity=2)
    sub = hub.subscribe()
    for i in range(5):
        hub.publish("t", i)
    hub.close()

    async def main():
        with pytest.raises(Lagged) as info:
            await sub.arecv()
        got = [(await sub.arecv()).payload for _ in range(2)]
        with pytest.raises(Closed):
            await sub.arecv()
        return info.value.missed, got

    assert run(main()) == (3, [3, 4])


def test_close_wakes_a_parked_async_receiver():
    hub = SignalHub()
    sub = hub.subscribe()

    async def main():
        asyncio.get_running_loop().call_later(0.02, hub.close)
        return [m async for m in sub]

    assert run(main()) == []


def test_waiter_of_a_closed_loop_does_not_break_publishers():
    hub = SignalHub()
    sub = hub.subscribe()
    loop = asyncio.new_event_loop()
    task = loop.create_task(sub.arecv())
    loop.run_until_complete(asyncio.sleep(0.01))  # park the receiver
    assert sub._waiting == 1
    loop.close()  # abandoned with a parked waiter
    assert hub.publish("t", 1) == 1  # the stale waiter is dropped silently
    assert sub.try_recv().payload == 1
    task._log_destroy_pending = False  # silence asyncio's "Task was destroyed" warning
