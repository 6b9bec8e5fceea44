"""A real model-server process and the router's side of the wire: pipelined frames,
requests batched together, a multi-model LRU under its memory budget, instances skipped
when they go away."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.loadgen import run_sync
from endpoints.engine import protocol
from endpoints.engine.router import Route, Upstream, UpstreamError, Variant, call_variant
from tests.endpoints.engine.conftest import FEATURES, numeric_frame

ROOT = Path(__file__).resolve().parents[3]


@contextmanager
def model_server(folder: Path, manifest: dict) -> Iterator[tuple[str, int]]:
    folder.mkdir(parents=True, exist_ok=True)
    address = folder / "address"
    manifest = {**manifest, "address_file": str(address)}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    proc = subprocess.Popen(
        [sys.executable, "-m", "endpoints.engine.server", str(folder / "manifest.json")],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=(folder / "log").open("wb"),
    )
    try:
        deadline = time.monotonic() + 30
        while not address.exists():
            if proc.poll() is not None:
                raise AssertionError((folder / "log").read_text())
            assert time.monotonic() < deadline, "the model server did not start"
            time.sleep(0.05)
        host, port = address.read_text().split()
        yield host, int(port)
    finally:
        proc.terminate()
        proc.wait(10)


def csv_row(i: int = 0) -> bytes:
    return ",".join(str(v) for v in numeric_frame()[FEATURES].iloc[i]).encode()


def invoke(body: bytes, **head: str) -> bytes:
    return protocol.request_frame(protocol.INVOKE, body, ct="text/csv", **head)


def test_a_server_answers_pipelined_requests_in_order_and_batches_them(tmp_path, xgb_archive):
    manifest = {"models": {"churn/1": {"path": str(xgb_archive), "version": "1"}}}
    with model_server(tmp_path / "s", manifest) as (host, port):

        async def run() -> tuple[list, dict]:
            variant = Variant("A", 1.0, [Upstream(host, port)])
            frames = [invoke(csv_row(i)) for i in range(40)]
            answers = await asyncio.gather(*(call_variant(variant, f) for f in frames))
            alone = [await call_variant(variant, f) for f in frames[:5]]
            assert answers[:5] == alone
            ping = await call_variant(variant, protocol.request_frame(protocol.PING))
            return answers, json.loads(ping[2])

        answers, stats = run_sync(run())
    assert all(status == 200 for status, _, _ in answers)
    assert {body for _, _, body in answers} <= {b"churn\n", b"stay\n"}
    # 40 requests sent at once were predicted in fewer calls than requests.
    assert stats["requests"] >= 45 and stats["batches"] < 40


def test_a_bad_body_gets_its_error_and_the_server_keeps_serving(tmp_path, xgb_archive):
    manifest = {"models": {"churn/1": {"path": str(xgb_archive), "version": "1"}}}
    with model_server(tmp_path / "s", manifest) as (host, port):

        async def run() -> list:
            variant = Variant("A", 1.0, [Upstream(host, port)])
            return list(
                await asyncio.gather(
                    call_variant(variant, invoke(b"1,2")),
                    call_variant(variant, invoke(csv_row())),
                    call_variant(
                        variant, protocol.request_frame(protocol.INVOKE, b"{", ct=protocol_json)
                    ),
                )
            )

        protocol_json = "application/json"
        bad, good, broken = run_sync(run())
    assert bad[0] == 400 and "takes 6" in json.loads(bad[2])["error"]["message"]
    assert good[0] == 200
    assert broken[0] == 400 and json.loads(broken[2])["error"]["field"] == "body"


def test_a_multi_model_server_loads_on_first_use_and_evicts_the_least_recent(
    tmp_path, xgb_archive, linear_archive
):
    models = {
        "churn/1": {"path": str(xgb_archive), "version": "1"},
        "churn/2": {"path": str(xgb_archive), "version": "2"},
        "price/1": {"path": str(linear_archive), "version": "1"},
    }
    # A budget that holds one model at a time.
    manifest = {"models": models, "multi_model": True, "memory_budget_mb": 0.05}
    with model_server(tmp_path / "s", manifest) as (host, port):

        async def run() -> list:
            variant = Variant("A", 1.0, [Upstream(host, port)])

            async def ask(op: str, body: bytes = b"", **head: str) -> tuple[int, dict]:
                status, _, answer = await call_variant(
                    variant, protocol.request_frame(op, body, ct="text/csv", **head)
                )
                return status, json.loads(answer) if answer.startswith(b"{") else answer

            seen = [await ask(protocol.PING)]
            seen.append(await ask(protocol.INVOKE, csv_row(), model="churn/1"))
            seen.append(await ask(protocol.PING))
            seen.append(await ask(protocol.INVOKE, b"1,2,3,4", model="price/1"))
            seen.append(await ask(protocol.PING))
            seen.append(await ask(protocol.INVOKE, csv_row(), model="churn/1"))
            seen.append(await ask(protocol.PING))
            seen.append(await ask(protocol.INVOKE, csv_row()))
            seen.append(await ask(protocol.INVOKE, csv_row(), model="nope/1"))
            return seen

        seen = run_sync(run())
    assert seen[0][1]["loaded"] == []
    assert seen[1][0] == 200 and seen[2][1]["loaded"] == ["churn/1"]
    assert seen[3][0] == 200 and seen[4][1]["loaded"] == ["price/1"]
    assert seen[4][1]["evictions"] == 1
    # Evicted, asked again: loaded again, transparently.
    assert seen[5][0] == 200 and seen[6][1]["loaded"] == ["churn/1"]
    assert seen[6][1]["loads"] == 3
    assert seen[7][0] == 400 and seen[7][1]["error"]["code"] == "model_required"
    assert seen[8][0] == 404 and seen[8][1]["error"]["code"] == "model_not_found"


def test_a_model_that_cannot_load_fails_the_start_with_its_reason(tmp_path):
    broken = tmp_path / "model.tar.gz"
    broken.write_bytes(b"not an archive")
    manifest = {"models": {"x/1": {"path": str(broken), "version": "1"}}}
    with pytest.raises(AssertionError, match="could not start"):
        with model_server(tmp_path / "s", manifest):
            pass


def test_the_router_skips_an_instance_that_is_gone(tmp_path, xgb_archive):
    manifest = {"models": {"churn/1": {"path": str(xgb_archive), "version": "1"}}}
    with model_server(tmp_path / "s", manifest) as (host, port):

        async def run() -> tuple[int, int]:
            dead = Upstream("127.0.0.1", 9)  # nothing listens on the discard port
            variant = Variant("A", 1.0, [dead, Upstream(host, port)])
            statuses = [(await call_variant(variant, invoke(csv_row())))[0] for _ in range(6)]
            only_dead = Variant("B", 1.0, [Upstream("127.0.0.1", 9)])
            with pytest.raises(UpstreamError):
                await call_variant(only_dead, invoke(csv_row()))
            return statuses.count(200), only_dead.stats.server_errors

        ok, errors = run_sync(run())
    assert ok == 6 and errors == 1


def test_weights_split_traffic_and_a_zero_weight_gets_none():
    a, b, c = (Variant(n, w, []) for n, w in (("A", 0.7), ("B", 0.3), ("C", 0.0)))
    route = Route(1, "churn", 1, 1, [a, b, c])
    drawn = [route.choose().name for _ in range(20_000)]
    assert abs(drawn.count("A") / 20_000 - 0.7) < 0.02
    assert drawn.count("C") == 0
    assert route.variant("C") is c and route.variant("D") is None


class _Allocate:
    """Unpickles as ``bytearray(3 GiB)``: a model that takes far more memory than allowed."""

    def __reduce__(self) -> tuple:
        return (bytearray, (3 * 1024**3,))


def test_a_model_past_the_servers_memory_limit_fails_its_start(tmp_path, linear_archive):
    import io
    import tarfile

    import joblib

    from training.engine.artifact import MODEL_FILE

    bomb = tmp_path / "model.tar.gz"
    with tarfile.open(linear_archive, "r:gz") as src, tarfile.open(bomb, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == MODEL_FILE:
                buffer = io.BytesIO()
                joblib.dump(_Allocate(), buffer)
                data = buffer.getvalue()
            info = tarfile.TarInfo(member.name)
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    manifest = {"models": {"m/1": {"path": str(bomb), "version": "1"}}, "memory_limit_mb": 1024}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    done = subprocess.run(
        [sys.executable, "-m", "endpoints.engine.server", str(tmp_path / "manifest.json")],
        cwd=ROOT,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "The model server could not start: MemoryError" in done.stderr


def test_a_servers_memory_limit_grows_with_its_variants_model_budget(settings) -> None:
    from endpoints.hosting import memory_limit_mb

    settings.SEXTANT_MODEL_SERVER_MEMORY_MB = 4096
    assert memory_limit_mb({"memory_budget_mb": 1024}) == 4096
    assert memory_limit_mb({"memory_budget_mb": 8192}) == 8192 + 1024
    assert memory_limit_mb({}) == 4096
    settings.SEXTANT_MODEL_SERVER_MEMORY_MB = 0
    assert memory_limit_mb({"memory_budget_mb": 8192}) == 0
