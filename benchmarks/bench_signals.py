"""theus-signals figures: SignalHub dispatch and queues, asyncio receive, outbox stores.

Floors (Python 3.11): callback dispatch >= 2.7 M events/s, publish + recv >= 1.5 M msgs/s,
``await arecv()`` <= 5 us per waiting message, SQLite outbox >= 20,000 committed msgs/s in
batches of 100. Each figure is printed next to a plain-Python baseline of the same run.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from pathlib import Path

from _timing import per_call, report, report_baseline, report_value, samples

from theus_signals import (
    MemoryOutboxStore,
    OutboxMessage,
    Relay,
    SignalHub,
    SqliteOutboxStore,
)

N = 10_000  # events per timed round


def rate(seconds_per_round: float, per_round: int = N) -> float:
    return per_round / seconds_per_round


def bench_dispatch() -> None:
    # Baseline: a plain list-of-callbacks dispatch loop, same callback, same run.
    received: list[object] = []
    callbacks = [received.append]

    def plain_publish(topic: str, payload: object) -> int:
        for cb in callbacks:
            cb(payload)
        return len(callbacks)

    def plain_round() -> None:
        publish = plain_publish
        for i in range(N):
            publish("orders.created", i)
        received.clear()

    report_value("baseline.list_dispatch", rate(per_call(plain_round)) / 1e6, "Mevents/s")

    hub = SignalHub()
    got: list[object] = []
    hub.on("orders.*", got.append)

    def hub_round() -> None:
        publish = hub.publish
        for i in range(N):
            publish("orders.created", i)
        got.clear()

    report_value("signals.callback_dispatch", rate(per_call(hub_round)) / 1e6, "Mevents/s")
    hub.close()


def bench_queue() -> None:
    hub = SignalHub(capacity=1024)
    sub = hub.subscribe("orders.*")

    def alternating() -> None:
        publish, recv = hub.publish, sub.try_recv
        for i in range(N):
            publish("orders.created", i)
            recv()

    def batched() -> None:
        publish, recv = hub.publish, sub.try_recv
        for _ in range(N // 1000):
            for i in range(1000):
                publish("orders.created", i)
            for _ in range(1000):
                recv()

    report_value("signals.publish_recv", rate(per_call(alternating)) / 1e6, "Mmsgs/s")
    report_value("signals.publish_recv_batch1000", rate(per_call(batched)) / 1e6, "Mmsgs/s")

    # Baseline: the same traffic through a bare collections.deque guarded by one lock.
    from collections import deque

    q: deque[object] = deque()
    lock = threading.Lock()

    def plain() -> None:
        for i in range(N):
            with lock:
                q.append(("orders.created", i))
            with lock:
                q.popleft()

    report_value("baseline.locked_deque", rate(per_call(plain)) / 1e6, "Mmsgs/s")

    # A consumer thread draining a "block" subscription while this thread publishes.
    total = 200_000
    bhub = SignalHub(capacity=1024, overflow="block")
    bsub = bhub.subscribe("*")

    def consume() -> None:
        for _ in range(total):
            bsub.recv()

    t0 = time.perf_counter()
    worker = threading.Thread(target=consume)
    worker.start()
    publish = bhub.publish
    for i in range(total):
        publish("t", i)
    worker.join()
    report_value("signals.block_cross_thread", total / (time.perf_counter() - t0) / 1e6, "Mmsgs/s")
    hub.close()
    bhub.close()


def bench_async() -> None:
    hub = SignalHub(capacity=N)
    sub = hub.subscribe("*")

    async def drain() -> None:
        arecv = sub.arecv
        for _ in range(N):
            await arecv()

    loop = asyncio.new_event_loop()

    def one_round() -> None:
        publish = hub.publish
        for i in range(N):
            publish("t", i)
        t0 = time.perf_counter()
        loop.run_until_complete(drain())
        times.append(time.perf_counter() - t0)

    times: list[float] = []
    for _ in range(9):
        one_round()
    times.sort()
    report("signals.arecv_waiting", times[len(times) // 2] / N, "us")

    # Baseline: awaiting an asyncio.Queue that already holds the messages.
    async def queue_drain(q: asyncio.Queue[object]) -> None:
        get = q.get
        for _ in range(N):
            await get()

    async def fill() -> asyncio.Queue[object]:
        q: asyncio.Queue[object] = asyncio.Queue()
        for i in range(N):
            q.put_nowait(i)
        return q

    base: list[float] = []
    for _ in range(9):
        q = loop.run_until_complete(fill())
        t0 = time.perf_counter()
        loop.run_until_complete(queue_drain(q))
        base.append(time.perf_counter() - t0)
    base.sort()
    report("baseline.asyncio_queue_get", base[len(base) // 2] / N, "us")

    # A publisher thread feeding a parked asyncio receiver (wakeups only when parked).
    total = 100_000
    xhub = SignalHub(capacity=1024, overflow="block")
    xsub = xhub.subscribe("*")

    async def consume() -> None:
        for _ in range(total):
            await xsub.arecv()

    def produce() -> None:
        for i in range(total):
            xhub.publish("t", i)

    t0 = time.perf_counter()
    worker = threading.Thread(target=produce)
    worker.start()
    loop.run_until_complete(consume())
    worker.join()
    report_value("signals.arecv_cross_thread", total / (time.perf_counter() - t0) / 1e6, "Mmsgs/s")
    loop.close()
    hub.close()
    xhub.close()


def bench_outbox() -> None:
    batches, size = 50, 100
    with tempfile.TemporaryDirectory() as tmp:
        for sync in ("NORMAL", "FULL"):
            path = Path(tmp) / f"outbox-{sync}.db"
            store = SqliteOutboxStore(path, synchronous=sync)
            payload = {"order": 1234, "sku": "A-17", "qty": 2}

            def append_all(store: SqliteOutboxStore = store, payload: object = payload) -> None:
                for _ in range(batches):
                    store.append([OutboxMessage("orders.created", payload) for _ in range(size)])

            seconds = samples(append_all, repeat=5)
            report_value(
                f"outbox.sqlite_append_b100_{sync.lower()}",
                batches * size / seconds,
                "msgs/s",
            )
            store.close()

        path = Path(tmp) / "relay.db"
        store = SqliteOutboxStore(path)
        total = 20_000
        for _ in range(total // size):
            store.append([OutboxMessage("orders.created", i) for i in range(size)])
        delivered: list[object] = []
        relay = Relay(store, delivered.append, batch=size)
        t0 = time.perf_counter()
        while relay.run_once():
            pass
        report_value("outbox.sqlite_relay", total / (time.perf_counter() - t0), "msgs/s")
        store.close()

    mem = MemoryOutboxStore()

    def mem_append() -> None:
        for _ in range(batches):
            mem.append([OutboxMessage("orders.created", 1) for _ in range(size)])

    report_value("outbox.memory_append_b100", batches * size / samples(mem_append), "msgs/s")

    # Baseline: creating the same messages and putting them in a plain list.
    def plain() -> None:
        out = []
        for _ in range(batches):
            out.extend([OutboxMessage("orders.created", 1) for _ in range(size)])

    report_value("baseline.outbox_message_list", batches * size / samples(plain), "msgs/s")


def main() -> None:
    report_baseline()
    bench_dispatch()
    bench_queue()
    bench_async()
    bench_outbox()


if __name__ == "__main__":
    main()
