"""The embedded broker: kombu's filesystem transport, made safe against its write race.

kombu's filesystem channel creates a message file and writes it afterwards, so a consumer
polling the folder can pick up an empty file, fail to decode it and lose the message. Here a
message is written under a name no consumer looks at (it lacks the ``.msg`` suffix) and then
renamed into place with ``os.replace``, which is atomic on POSIX: a consumer sees either
nothing or the whole message. Reading an exchange table that another process is creating
is retried instead of failing on its empty first instant.

The transport is registered under the alias ``sextantfs`` by :mod:`studio.celery`, so a
broker URL of ``sextantfs://`` selects it in the web process and in every worker.
"""

from __future__ import annotations

import os
import time
import uuid
from json import JSONDecodeError
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads


class Channel(filesystem.Channel):
    """A filesystem channel whose messages appear atomically."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        # The millisecond prefix keeps the folder listing in FIFO order, as upstream does.
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        temp = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(temp, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(temp, final)
        except OSError as exc:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise ChannelError(f"Cannot add message to {self.data_folder_out!r}") from exc

    def _get(self, queue: str) -> Any:
        # Claim a message by renaming it into the processed folder, which lives on the same
        # filesystem: rename is atomic, so two consumers can never both take one message
        # (upstream moves to the system temp dir, which may be another device, where a move
        # is a copy and two consumers could read the same file).
        suffix = f"{queue}.msg"
        os.makedirs(self.processed_folder, exist_ok=True)
        for filename in sorted(os.listdir(self.data_folder_in)):
            if filename.partition(".")[2] != suffix:
                continue
            claimed = os.path.join(self.processed_folder, filename)
            try:
                os.rename(os.path.join(self.data_folder_in, filename), claimed)
            except OSError:
                continue  # another consumer took it first
            try:
                with open(claimed, "rb") as f:
                    payload = f.read()
            finally:
                if not self.store_processed:
                    os.unlink(claimed)
            return loads(bytes_to_str(payload))
        raise Empty()

    def get_table(self, exchange: str) -> Any:
        # Upstream creates a missing exchange table with open("wb") and only then locks and
        # writes it, so a reader can find it empty for an instant: read it again shortly.
        for _ in range(50):
            try:
                return super().get_table(exchange)
            except JSONDecodeError:
                time.sleep(0.01)
        return super().get_table(exchange)


class Transport(filesystem.Transport):
    """Filesystem transport using :class:`Channel`."""

    Channel = Channel
    driver_type = "filesystem"
    driver_name = "sextantfs"
