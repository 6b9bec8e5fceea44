from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.live import LiveStudio, backends, live_studio


@pytest.fixture(scope="module", params=backends())
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStudio]:
    var = tmp_path_factory.mktemp(f"studio-{request.param}")
    with live_studio(
        request.param, var, show_logs=lambda: bool(request.session.testsfailed)
    ) as studio:
        yield studio
