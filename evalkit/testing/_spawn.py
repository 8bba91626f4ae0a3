"""A loopback stub server in a child process: start it, read its port, ask its stats, stop it."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import Any


def spawn_server(args: list[str], what: str) -> tuple[subprocess.Popen, int]:
    """Start ``args`` (a module printing ``... port N`` once listening); returns the process and port.

    Raises:
        RuntimeError: the server printed no port (it failed to start).
    """
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline() if proc.stdout else ""
    m = re.search(r"port (\d+)", line)
    if not m:
        proc.kill()
        raise RuntimeError(f"{what} did not start")
    return proc, int(m.group(1))


@dataclass
class SpawnedServer:
    """A stub server running in a child process."""

    proc: subprocess.Popen
    host: str
    port: int
    _stopped: bool = field(default=False, repr=False)

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def stats(self) -> dict:
        """The server's counters (``GET /v1/stub/stats``)."""
        import urllib.request

        with urllib.request.urlopen(f"{self.api_base}/stub/stats", timeout=10) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if not self._stopped:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._stopped = True

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class BackgroundServer:
    """Runs an aiohttp app on a background thread of this process (tests).

    Subclasses set ``host`` and ``port`` and implement :meth:`_app` (the ``web.Application``).
    """

    host: str
    port: int
    _thread_name = "stub-server"

    def __init__(self) -> None:
        self._loop: Any = None
        self._thread: Any = None
        self._runner: Any = None

    def _app(self) -> Any:
        raise NotImplementedError

    def start(self) -> Any:
        """Serve on ``host:port`` (0: a free port, then set on ``port``).

        ``handler_cancellation``: a request whose client hangs up is cancelled, so a reply still
        waiting (a timeout, a latency) stops counting as in flight.

        Raises:
            OSError: the server could not listen (e.g. the port is taken).
        """
        import asyncio
        import threading

        from aiohttp import web

        ready = threading.Event()
        failed: list[BaseException] = []

        async def serve() -> None:
            self._runner = web.AppRunner(self._app(), handler_cancellation=True, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, self.host, self.port, backlog=1024).start()
            self.port = int(self._runner.addresses[0][1])

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as e:  # reported by start()
                failed.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=run, name=self._thread_name, daemon=True)
        self._thread.start()
        ready.wait(10)
        if failed:
            self._loop = self._thread = None
            raise failed[0]
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve_forever(server: BackgroundServer, what: str) -> None:
    """Start ``server``, print ``<what> listening on HOST port N`` (what :func:`spawn_server`
    reads) and serve until interrupted."""
    import time

    server.start()
    print(f"{what} listening on {server.host} port {server.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
