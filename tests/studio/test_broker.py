"""The embedded broker: messages appear whole and are taken exactly once.

Consumers are separate processes, as several workers on one machine would be.
"""

from __future__ import annotations

import multiprocessing
import queue as stdlib_queue

from kombu import Connection

import studio.celery  # noqa: F401  (registers the sextantfs transport alias)

PAYLOAD = "x" * 50_000  # big enough that a non-atomic write would be seen half-done
TOTAL = 200


def connection_for(folder):
    options = {
        "data_folder_in": str(folder / "q"),
        "data_folder_out": str(folder / "q"),
        "processed_folder": str(folder / "p"),
        "control_folder": str(folder / "c"),
        "polling_interval": 0.005,
    }
    for sub in ("q", "p", "c"):
        (folder / sub).mkdir(exist_ok=True)
    return Connection("sextantfs://localhost//", transport_options=options)


def consume(folder, results, stop) -> None:
    with connection_for(folder) as conn:
        simple = conn.SimpleQueue("race")
        while not stop.is_set():
            try:
                message = simple.get(timeout=0.05)
            except simple.Empty:
                continue
            body = message.payload
            # A torn read would show as a short or undecodable body.
            results.put((int(body.split(":")[0]), body.endswith(PAYLOAD)))
            message.ack()


def test_messages_arrive_whole_and_exactly_once_across_consumer_processes(tmp_path):
    with connection_for(tmp_path) as conn:
        conn.SimpleQueue("race")  # declare and bind before anyone publishes or consumes
    # Not "fork": by the time this runs the test process has threads (browsers, thread
    # pools, OpenMP), and a child forked from it can inherit a lock held by one of them.
    ctx = multiprocessing.get_context("forkserver")
    results, stop = ctx.Queue(), ctx.Event()
    # Daemons: one that never stops cannot keep the test session from ending.
    consumers = [
        ctx.Process(target=consume, args=(tmp_path, results, stop), daemon=True) for _ in range(3)
    ]
    for p in consumers:
        p.start()
    with connection_for(tmp_path) as conn:
        producer = conn.SimpleQueue("race")
        for i in range(TOTAL):
            producer.put(f"{i}:{PAYLOAD}")
    received = []
    try:
        while len(received) < TOTAL:
            received.append(results.get(timeout=30))
    except stdlib_queue.Empty:
        pass
    finally:
        stop.set()
        for p in consumers:
            p.join(timeout=10)
        for p in consumers:
            if p.is_alive():
                p.kill()
    assert sorted(i for i, _ in received) == list(range(TOTAL))
    assert all(whole for _, whole in received)
    assert all(p.exitcode == 0 for p in consumers)
    assert not list((tmp_path / "q").iterdir())
