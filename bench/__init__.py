"""Sextant's benchmarks: ingestion, dispatch latency and page times, each against a peer.

Run them with ``make bench`` (or ``.venv/bin/python -m bench --help``). They are not tests:
they start real processes, take minutes, and write their figures into ``docs/benchmarks.md``
together with the date, the machine and the baseline measured in the same run.
"""
