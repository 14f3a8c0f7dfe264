"""The servers the replay store tests share: a Redis, a three-node Redis Cluster, a Sentinel with one master, memcached.

Each is started once per test session on 127.0.0.1 (``tests/conftest.py`` registers
these fixtures), from Debian's binaries (``make test`` installs them), and can be
stopped and started again on the same port by a test that needs an outage: such a
test restores what it stopped, so the order of tests never matters. A binary that is
missing skips only its own store's tests, with the package to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e import servers

#: binary -> the Debian package that provides it.
PACKAGES = {"redis-server": "redis-server", "redis-cli": "redis-tools", "memcached": "memcached"}


def binary(name: str) -> str:
    """The path of a server binary, or a skip saying which Debian package to install."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed: apt-get install {PACKAGES[name]} (make test installs it)")
    return found


@dataclass
class Server:
    """A server process on 127.0.0.1:port that a test can stop and start again, its files kept in ``directory``."""

    argv: list[str]
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        log = (self.directory / f"{self.port}.log").open("ab")
        self.process = subprocess.Popen(self.argv, cwd=self.directory, stdout=log, stderr=log)
        log.close()
        try:
            servers.wait_for_port(self.port, self.process)
        except RuntimeError:
            self.stop()
            output = (self.directory / f"{self.port}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.argv[0]} did not start on {self.port}:\n{output}") from None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stop the server for the block, then start it again on the same port with the same files."""
        self.stop()
        try:
            yield
        finally:
            self.start()


def redis_argv(port: int, *extra: str) -> list[str]:
    """A memory-only redis-server on 127.0.0.1:port."""
    local = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return [binary("redis-server"), *local, *extra]


@contextlib.contextmanager
def started(*members: Server) -> Iterator[None]:
    try:
        for member in members:
            member.start()
        yield
    finally:
        for member in members:
            member.stop()


@pytest.fixture(scope="session")
def store_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="twiliosig-stores-") as directory:
        yield Path(directory)


# --- a plain Redis (for the valkey client, which speaks to redis-server) ---------------------------


@pytest.fixture(scope="session")
def redis_server(store_dir: Path) -> Iterator[Server]:
    port = servers.free_port()
    server = Server(redis_argv(port), port, store_dir)
    with started(server):
        yield server


# --- a Redis Cluster of three masters -------------------------------------------------------------


@dataclass
class Cluster:
    nodes: list[Server]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    def state(self, port: int) -> str:
        argv = [binary("redis-cli"), "-p", str(port), "cluster", "info"]
        info = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=5).stdout
        states = [line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("cluster_state")]
        return states[0] if states else ""

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Wait until every node says the cluster is up (all slots served)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.state(port) == "ok" for port in self.ports):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the cluster on {self.ports} did not become ok within {timeout} s")


@contextlib.contextmanager
def cluster_running(directory: Path) -> Iterator[Cluster]:
    """Three redis-server masters in cluster mode, slots assigned by ``redis-cli --cluster create``."""
    cli = binary("redis-cli")
    nodes = []
    for _ in range(3):
        port = servers.free_port()
        argv = redis_argv(
            port,
            "--cluster-enabled", "yes",
            "--cluster-config-file", f"nodes-{port}.conf",
            "--cluster-node-timeout", "1000",
            "--cluster-port", str(servers.free_port()),  # the bus; by default port + 10000, which may be taken
        )  # fmt: skip
        nodes.append(Server(argv, port, directory))
    with started(*nodes):
        addresses = [f"127.0.0.1:{node.port}" for node in nodes]
        subprocess.run(
            [cli, "--cluster", "create", *addresses, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        cluster = Cluster(nodes)
        cluster.wait_ok()
        yield cluster


@pytest.fixture(scope="session")
def redis_cluster(store_dir: Path) -> Iterator[Cluster]:
    directory = store_dir / "cluster"
    directory.mkdir()
    with cluster_running(directory) as cluster:
        yield cluster


# --- Sentinel watching one master -------------------------------------------------------------------


@dataclass
class Sentinel:
    master: Server
    sentinel: Server
    name: str = "twiliosig"

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", self.sentinel.port)]


@contextlib.contextmanager
def sentinel_running(directory: Path) -> Iterator[Sentinel]:
    """A redis-server master and a redis-server in Sentinel mode monitoring it (quorum 1)."""
    master_port, sentinel_port = servers.free_port(), servers.free_port()
    master = Server(redis_argv(master_port), master_port, directory)
    config = directory / "sentinel.conf"  # Sentinel rewrites its configuration file: it must be writable
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\n"
        f"sentinel monitor twiliosig 127.0.0.1 {master_port} 1\n"
        "sentinel down-after-milliseconds twiliosig 1000\n",
        encoding="utf-8",
    )
    sentinel = Server([binary("redis-server"), str(config), "--sentinel"], sentinel_port, directory)
    with started(master, sentinel):
        yield Sentinel(master, sentinel)


@pytest.fixture(scope="session")
def redis_sentinel(store_dir: Path) -> Iterator[Sentinel]:
    directory = store_dir / "sentinel"
    directory.mkdir()
    with sentinel_running(directory) as sentinel:
        yield sentinel


# --- memcached ----------------------------------------------------------------------------------------


def memcached_argv(port: int) -> list[str]:
    argv = [binary("memcached"), "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16"]
    if os.geteuid() == 0:
        argv += ["-u", "root"]  # memcached refuses to run as root unless told which user to be
    return argv


@pytest.fixture(scope="session")
def memcached_server(store_dir: Path) -> Iterator[Server]:
    port = servers.free_port()
    server = Server(memcached_argv(port), port, store_dir)
    with started(server):
        yield server
