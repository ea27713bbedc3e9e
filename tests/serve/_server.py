"""Run the real ``window-ner serve`` as a subprocess on a free loopback port, for the browser test, the
benchmark and the screenshot tool (conftest files belong to the lead, so this is a plain helper module)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class Server:
    """A running server: its base URL, port and process."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        """What the server has written to its standard output and error so far."""
        return self.log.read_text(errors="replace")


def _healthy(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/health")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def stop(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Terminate the process; kill it when it has not ended after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_server(model: str | Path, *options: str, timeout: float = 30.0) -> Iterator[Server]:
    """``python -m window_ner serve --model MODEL --port P [options]`` on a free loopback port, up once /health
    answers; stopped on leaving the block. Raises RuntimeError with the server's output when it does not
    come up within ``timeout`` seconds."""
    port = free_port()
    argv = [sys.executable, "-m", "window_ner", "serve", "--model", str(model), "--host", HOST, "--port", str(port),
            "--log-level", "warning", *options]
    with tempfile.TemporaryDirectory(prefix="window-ner-serve-") as scratch:
        log = Path(scratch) / "server.log"
        with open(log, "wb") as sink:  # a file, not a pipe: a chatty server never blocks on a full pipe
            process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1"})
        server = Server(f"http://{HOST}:{port}", port, process, log)
        try:
            deadline = time.monotonic() + timeout
            while not _healthy(port):
                if process.poll() is not None:
                    raise RuntimeError(f"the server exited ({process.returncode}) before answering /health:\n"
                                       f"{server.output()}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not answer /health within {timeout:.0f} s:\n"
                                       f"{server.output()}")
                time.sleep(0.05)
            yield server
        finally:
            stop(process)
