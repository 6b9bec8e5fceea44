"""The embedded broker: messages appear whole and are taken exactly once."""

from __future__ import annotations

import threading

from kombu import Connection

import studio.celery  # noqa: F401  (registers the sextantfs transport alias)


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
    return Connection("sextantfs://", transport_options=options)


def test_no_reader_ever_sees_a_partial_message(tmp_path):
    payload = "x" * 50_000  # big enough that a non-atomic write would be seen half-done
    total, consumers = 200, 3
    received: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    done = threading.Event()

    def consume() -> None:
        try:
            with connection_for(tmp_path) as conn:
                queue = conn.SimpleQueue("race")
                while not done.is_set():
                    try:
                        message = queue.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    with lock:
                        received.append(message.payload)
                        if len(received) >= total:
                            done.set()
                    message.ack()
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)
            done.set()

    threads = [threading.Thread(target=consume) for _ in range(consumers)]
    for t in threads:
        t.start()
    with connection_for(tmp_path) as conn:
        queue = conn.SimpleQueue("race")
        for i in range(total):
            queue.put(f"{i}:{payload}")
    done.wait(timeout=120)
    for t in threads:
        t.join(timeout=5)
    assert errors == []
    assert len(received) == total
    assert sorted(int(m.split(":")[0]) for m in received) == list(range(total))
    assert all(m.endswith(payload) for m in received)
    assert not list((tmp_path / "q").glob("*.part"))
