"""`reelvec serve`'s processes: one listening socket, `--workers` forked processes accepting on it,
each new connection left to the least loaded live worker (`Balance`), and each worker's event
loop running the aiohttp application of `reelvec.app.serve.make_app`."""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from reelvec.app.serve import ServeConfig, make_app

logger = logging.getLogger("reelvec.app.serve")
MAX_URL = 64 * 1024  # bytes of a request line (aiohttp's default 8,190 refused 1,000 exclude= values)


def serve(engine, config: ServeConfig = ServeConfig(), ready: Callable[[str], None] | None = None) -> None:
    """Run the service until interrupted. `ready(url)` is called once it listens.

    With ``config.workers`` > 1 the process forks that many minus one workers after binding. All
    accept on the one listening socket, balanced by `Balance` (the kernel's SO_REUSEPORT hashing
    put 7 of 8 keep-alive clients on one of two workers), share the published copy's memory
    maps, and the workers exit when the first process does.
    """
    import gc
    import os
    import signal
    import socket
    import sys

    engine.warm()  # before the fork: the workers share what it loads
    gc.collect()
    gc.freeze()  # what is loaded by now lives as long as the service: no collection walks it again (a
    # full collection of the warm engine took 44 ms, a stall for every request in flight)
    sock = socket.socket(socket.AF_INET6 if ":" in config.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(1024)
    balance = Balance(config.workers) if config.workers > 1 else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # until the event loop handles it; `kill` stops the
    # workers too (finally below)
    parent, children = os.getpid(), []  # the workers watch this pid
    for slot in range(1, config.workers):
        pid = os.fork()
        if pid == 0:  # a worker: the same socket, its own event loop
            code = 0
            try:
                _run(engine, config, sock, None, parent, balance, slot)
            except BaseException:  # a worker ends here whatever happened (Ctrl-C included)
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    try:
        _run(engine, config, sock, ready, None, balance, 0)
    finally:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
                os.waitpid(pid, 0)
            except OSError:
                pass


class Balance:
    """Spreads connections over worker processes that accept on one shared socket: a worker takes
    a waiting connection unless another live worker holds fewer open connections, and then only
    once the connection has waited `GRACE` seconds (that worker is busy). Each worker publishes
    its count and a heartbeat in a small shared memory map made before the fork."""

    GRACE = 0.02  # s a connection may wait for the least loaded worker
    BEAT = 0.2  # s between a worker's heartbeats; one silent for 5 beats is ignored

    def __init__(self, workers: int):
        import mmap

        self.workers = workers
        self._map = mmap.mmap(-1, 16 * workers)  # anonymous and shared: forked workers see one map
        self.slots = memoryview(self._map).cast("d")  # (open connections, heartbeat) per worker

    def report(self, slot: int, connections: int) -> None:
        self.slots[2 * slot], self.slots[2 * slot + 1] = float(connections), time.monotonic()

    def _alive(self) -> list[bool]:
        """Which workers have reported within 5 beats."""
        now = time.monotonic()
        return [now - self.slots[2 * o + 1] < 5 * self.BEAT for o in range(self.workers)]

    def live(self) -> int:
        """How many workers have reported lately."""
        return sum(self._alive())

    def should_wait(self, slot: int, mine: int, waited: float) -> bool:
        """Leave the waiting connection to a less loaded live worker?"""
        if waited >= self.GRACE:
            return False
        return any(alive and o != slot and self.slots[2 * o] < mine for o, alive in enumerate(self._alive()))


async def _accept_balanced(sock, server, balance: Balance, slot: int) -> None:
    """Accept connections on the shared `sock` for `server` (aiohttp's protocol factory), leaving
    each to the least loaded worker (see `Balance`)."""
    loop = asyncio.get_running_loop()

    async def beat():
        while True:
            balance.report(slot, len(server.connections))
            await asyncio.sleep(balance.BEAT)
    beating = asyncio.ensure_future(beat())

    async def readable() -> None:
        fut = loop.create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)
        loop.add_reader(sock.fileno(), wake)
        try:
            await fut
        finally:
            loop.remove_reader(sock.fileno())
    try:
        while True:
            await readable()
            t0 = time.monotonic()
            while balance.should_wait(slot, len(server.connections), time.monotonic() - t0):
                await asyncio.sleep(0.001)
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                continue  # another worker took it
            conn.setblocking(False)
            await loop.connect_accepted_socket(server, conn)
            balance.report(slot, len(server.connections))
    finally:
        beating.cancel()


def _run(engine, config: ServeConfig, sock, ready: Callable[[str], None] | None, parent: int | None,
         balance: Balance | None = None, slot: int = 0) -> None:
    """Serve on the listening `sock` until interrupted or sent SIGTERM (a worker: also once process
    `parent` is gone)."""
    import contextlib
    import os
    import signal

    from aiohttp import web

    async def main():
        runner = web.AppRunner(make_app(engine, config), access_log=None, max_line_size=MAX_URL,
                               max_field_size=16 * 1024)  # a GET page may carry many exclude=...
        await runner.setup()
        if balance is None:
            site = web.SockSite(runner, sock)
            await site.start()
            accepting = None
        else:
            sock.setblocking(False)
            accepting = asyncio.ensure_future(_accept_balanced(sock, runner.server, balance, slot))
        url = f"http://{config.host}:{sock.getsockname()[1]}"
        logger.info("reelvec serving %s on %s (pid %d)", engine.collection, url, os.getpid())
        if balance is not None and parent is None:  # ready when every worker accepts (or 10 s)
            t0 = time.monotonic()
            while balance.live() < balance.workers and time.monotonic() - t0 < 10:
                await asyncio.sleep(0.01)
        if ready:
            ready(url)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)  # between requests, not inside one
        try:
            if parent is None:
                await stop.wait()
            else:
                while os.getppid() == parent and not stop.is_set():  # orphaned workers stop by themselves
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1.0)
        finally:
            if accepting is not None:
                accepting.cancel()
            await runner.cleanup()
    try:
        import uvloop  # a faster event loop where installed (a dependency, so usually)

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
