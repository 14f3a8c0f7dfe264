"""Fixtures of the attack suite: one pool of real servers for the session, one server per test.

A module names the profile its servers run with in ``PROFILE`` (``"default"``
unless it says otherwise) and parametrizes ``adapter``; the ``server`` fixture
then hands each test the running server for that adapter and profile.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.attacks.harness import Pool, Server


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    servers = Pool(tmp_path_factory.mktemp("attack-servers"))
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def server(request: pytest.FixtureRequest, pool: Pool, adapter: str) -> Server:
    """The running server for this test's ``adapter`` with its module's ``PROFILE``."""
    return pool.server(adapter, getattr(request.module, "PROFILE", "default"))
