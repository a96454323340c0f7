"""Poster fetch throughput: a loopback server serving ../shared/data/posters with 50 ms injected
latency per request; fetch all posters at concurrency 64.

    python bench/fetch.py [--concurrency 64] [--latency 0.05]

Physical limit = concurrency / latency (64 / 0.05 s = 1,280 posters/s). Reports posters/s, the
share of that limit, lost posters, and CPU seconds per poster of the fetching process.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir


async def serve(folder: Path, latency: float):
    from aiohttp import web

    files = {p.name: p.read_bytes() for p in folder.glob("*.jpg")}

    async def handler(request):
        await asyncio.sleep(latency)
        data = files.get(request.match_info["name"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type="image/jpeg")

    app = web.Application()
    app.add_routes([web.get("/{name}", handler)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1], sorted(files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args()
    import multiprocessing as mp

    from reelvec.ingest.posters import run_async

    folder = data_dir() / "posters"
    ready = mp.Queue()

    def server_proc():
        async def run():
            runner, port, names = await serve(folder, args.latency)
            ready.put((port, names))
            await asyncio.sleep(3600)
        run_async(run())

    proc = mp.Process(target=server_proc, daemon=True)  # the server gets its own process (and core)
    proc.start()
    port, names = ready.get(timeout=60)
    from reelvec.ingest.posters import DONE, FetchConfig, PosterFetcher

    items = [(n, f"http://127.0.0.1:{port}/{n}") for n in names]
    cfg = FetchConfig(concurrency=args.concurrency, per_host=args.concurrency, allow_hosts=frozenset({"127.0.0.1"}))
    with tempfile.TemporaryDirectory() as tmp:
        f = PosterFetcher(tmp, cfg)
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t = time.perf_counter()
        out = run_async(f.fetch_all(items))
        wall = time.perf_counter() - t
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        f.close()
    proc.terminate()
    ok = sum(o.status == DONE for o in out)
    limit = args.concurrency / args.latency
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    rate = len(items) / wall
    print(f"{len(items)} posters in {wall:.2f} s = {rate:,.0f}/s ({rate / limit:.0%} of the {limit:,.0f}/s limit); "
          f"lost {len(items) - ok}; CPU {cpu / len(items) * 1000:.2f} ms per poster")
    print(json.dumps({"n": len(items), "seconds": wall, "per_s": rate, "limit_per_s": limit, "ok": ok,
                      "cpu_ms_per_poster": cpu / len(items) * 1000}))


if __name__ == "__main__":
    main()
