"""The server backend against a fake Qdrant on 127.0.0.1: refused keys, server errors and
timeouts become StoreErrors that say what to check; URL and key resolve flag > env > manifest."""
import asyncio
import threading

import pytest
from aiohttp import web

from reelvec.app import Home
from reelvec.errors import StoreError
from reelvec.index.server import ServerStore


@pytest.fixture(scope="module")
def fake_qdrant():
    async def status(request):
        code = int(request.match_info["code"])
        if code == 0:
            await asyncio.sleep(5)  # never answers in time
            code = 200
        return web.json_response({"status": {"error": f"fake {code}"}, "time": 0}, status=code)

    app = web.Application()
    app.add_routes([web.route("*", "/{code}/{tail:.*}", status)])
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = site._server.sockets[0].getsockname()[1]
    t = threading.Thread(target=loop.run_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    t.join(timeout=5)


@pytest.mark.parametrize("code,says", [(401, "refused the API key"), (403, "refused the API key"),
                                       (500, "answered HTTP 500"), (503, "answered HTTP 503"),
                                       (0, "did not answer within 1 s")])
def test_http_failures_are_store_errors(fake_qdrant, code, says):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # qdrant-client warns that it cannot check the server version
        store = ServerStore(url=f"{fake_qdrant}/{code}", api_key="k", timeout=1)
    with pytest.raises(StoreError, match=says):
        store.collections()
    store.close()


def test_url_and_key_resolution(tmp_path, monkeypatch):
    home = Home(tmp_path)
    home.write_manifest("http://from-manifest:6333", "linked")
    monkeypatch.delenv("QDRANT_URL", raising=False)
    monkeypatch.delenv("QDRANT_API_KEY", raising=False)
    assert home.qdrant() == ("http://from-manifest:6333", None)
    monkeypatch.setenv("QDRANT_URL", "http://from-env:6333")
    monkeypatch.setenv("QDRANT_API_KEY", "env-key")
    assert home.qdrant() == ("http://from-env:6333", "env-key")
    assert home.qdrant("http://flag:6333", "flag-key") == ("http://flag:6333", "flag-key")
    assert "key" not in (tmp_path / "manifest.json").read_text().lower().replace("text_max_tokens", "")
