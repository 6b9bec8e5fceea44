"""``manage.py model_host``: run this machine's model servers (see ``endpoints.hosting``)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from endpoints.hosting import Host, default_name


class Command(BaseCommand):
    help = "Run the model servers of the endpoints placed on this machine, and keep them up."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--name", default="", help="This host's name (default: hostname).")
        parser.add_argument(
            "--address",
            default=settings.SEXTANT_MODEL_HOST_ADDRESS,
            help="The address routers reach this machine's model servers at.",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        stop = threading.Event()

        def on_signal(signum: int, frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        host = Host(
            name=opts["name"] or default_name(),
            address=opts["address"],
            folder=Path(settings.VAR_DIR) / "model-host",
        )
        host.run(stop)
