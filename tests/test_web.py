from aiohttp.test_utils import TestClient, TestServer

from bot.web import make_web_app


async def test_health_and_search_api(app):
    async with TestClient(TestServer(make_web_app(app))) as client:
        r = await client.get("/healthz")
        # 2,642 less the 17 damaged records; no channel configured
        assert (await r.json()) == {"status": "ok", "procedures": 2625, "database": "up", "channels": {}}
        r = await client.get("/api/search", params={"q": "chứng thực di chúc"})
        body = await r.json()
        assert body["hits"][0]["code"] == "2.001019"
        r = await client.get("/api/search", params={"q": ""})
        assert r.status == 400 and "Thiếu" in (await r.json())["error"]
        r = await client.get("/api/search", params={"q": "x" * 5000})
        assert r.status == 400
