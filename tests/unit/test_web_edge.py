"""The app's edge middleware on its own (rag/web/middleware.py): origins, hosts, cookies, proxy
headers, request limits and the rate limit, driven through Starlette's test client."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from rag.config import Config
from rag.errors import ConfigError
from rag.web.middleware import ResponseHeaders, ForwardedHeaders, RateLimiter, RequestLimits, SameOrigin


async def echo(request: Request):
    body = await request.body()
    response = JSONResponse({"client": request.client.host, "scheme": request.url.scheme, "bytes": len(body),
                             "forwarded_host": request.headers.get("x-forwarded-host")})
    response.set_cookie("token", "t", samesite="none", secure=True)
    return response


def app_with(*layers, peer: str = "192.0.2.1") -> TestClient:
    """The layers around an app that echoes what it was given; requests come from `peer`."""
    app = Starlette(routes=[Route("/{path:path}", echo, methods=["GET", "POST", "OPTIONS"])])
    wrapped = app
    for layer, kwargs in layers:
        wrapped = layer(wrapped, **kwargs)
    return TestClient(wrapped, base_url="http://news.example.org", client=(peer, 50000))


def test_other_origins_are_refused_and_the_apps_own_pass():
    web = app_with((SameOrigin, {"allowed": ["https://portal.example.org"], "public_origin": None, "hosts": None}))
    assert web.get("/x").status_code == 200  # no Origin: a script, not another site's page
    for origin in ("http://news.example.org", "https://news.example.org", "https://portal.example.org"):
        assert web.post("/x", headers={"Origin": origin}).status_code == 200, origin
    for origin in ("https://evil.example", "null", "http://news.example.org:81", "http://news.example.org.evil.example",
                   "https://portal.example.org.evil", "news.example.org"):
        r = web.post("/x", headers={"Origin": origin})
        assert r.status_code == 403 and "other sites" in r.json()["detail"], origin


def test_behind_a_proxy_that_rewrites_the_host_the_public_url_is_the_apps_origin():
    web = app_with((SameOrigin, {"allowed": [], "public_origin": "https://news.example.org", "hosts": None}))
    internal = {"Host": "127.0.0.1:7860"}
    assert web.post("/x", headers={**internal, "Origin": "https://news.example.org"}).status_code == 200
    assert web.post("/x", headers={**internal, "Origin": "https://evil.example"}).status_code == 403


def test_a_login_less_local_app_answers_only_to_its_own_names():
    web = app_with((SameOrigin, {"allowed": [], "public_origin": None, "hosts": ["localhost", "127.0.0.1", "::1"]}))
    for host in ("localhost:7860", "127.0.0.1:7860", "[::1]:7860"):
        assert web.get("/x", headers={"Host": host}).status_code == 200, host
    rebound = web.get("/x", headers={"Host": "attacker.example:7860"})  # a DNS-rebinding page
    assert rebound.status_code == 421 and "RAG_PUBLIC_URL" in rebound.json()["detail"]


def test_cookies_are_lax_and_secure_only_over_https_and_no_other_site_frames_the_app():
    web = app_with((ResponseHeaders, {"https": False}))
    response = web.get("/x")
    assert response.headers["set-cookie"] == "token=t; Path=/; SameSite=Lax"
    assert response.headers["x-frame-options"] == "SAMEORIGIN" and response.headers["x-content-type-options"] == "nosniff"
    assert app_with((ResponseHeaders, {"https": True})).get("/x").headers["set-cookie"] == "token=t; Path=/; SameSite=Lax; Secure"


def test_proxy_headers_are_believed_only_from_trusted_proxies():
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}
    untrusted = app_with((ForwardedHeaders, {"proxies": ["10.0.0.0/8"]})).get("/x", headers=headers).json()
    assert untrusted == {"client": "192.0.2.1", "scheme": "http", "bytes": 0, "forwarded_host": None}
    trusted = app_with((ForwardedHeaders, {"proxies": ["10.0.0.0/8"]}), peer="10.1.2.3").get("/x", headers=headers).json()
    assert trusted == {"client": "203.0.113.9", "scheme": "https", "bytes": 0, "forwarded_host": "evil.example"}
    assert app_with((ForwardedHeaders, {"proxies": []}), peer="127.0.0.1").get("/x", headers=headers).json() == {
        "client": "127.0.0.1", "scheme": "http", "bytes": 0, "forwarded_host": None,
    }  # uvicorn alone would have believed 127.0.0.1


def limits(rate: int = 0, arity=lambda path, body: 2) -> TestClient:
    return app_with((RequestLimits, {"max_upload_bytes": 1000, "rate_limit": rate, "arity": arity}))


def test_request_bodies_are_bounded_in_size_depth_and_arity():
    web = limits()
    ok = web.post("/gradio_api/call/ask", json={"data": ["q", []]})
    assert ok.status_code == 200 and ok.json()["bytes"] > 0  # the body reaches the app intact
    message = "This endpoint takes 2 values in 'data'."
    assert web.post("/gradio_api/call/ask", json={"data": ["q"]}).json() == {"detail": message, "error": message}
    deep = '{"data": ["q", ' + "[" * 33 + "]" * 33 + "]}"
    assert "nested" in web.post("/gradio_api/call/ask", content=deep, headers={"Content-Type": "application/json"}).json()["detail"]
    assert "nested" in web.post("/gradio_api/call/ask", content=deep).json()["detail"]  # no type: read as JSON too
    huge = web.post("/gradio_api/call/ask", content=b"x" * (5 << 20), headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
    upload = web.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * (21 * 1000 + (1 << 20)))})
    assert upload.status_code == 413


def test_one_client_is_rate_limited_without_affecting_another():
    clock = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: clock[0])
    assert [limiter.wait_seconds("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.wait_seconds("a") == pytest.approx(20.0)
    assert limiter.wait_seconds("b") == 0
    clock[0] += 20
    assert limiter.wait_seconds("a") == 0
    crowded = RateLimiter(per_minute=1, max_clients=2)
    for address in ("a", "b", "c"):
        crowded.wait_seconds(address)
    assert crowded.wait_seconds("a") == 0  # forgotten: memory is bounded, not the refusal
    web = limits(rate=2)
    codes = [web.post("/gradio_api/queue/join", json={"data": [1, 2]}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert web.post("/login", data={"username": "a"}).status_code == 200  # only work-starting routes count


def test_web_settings_are_checked_at_start():
    config = Config.from_env()
    assert config.with_(allowed_origins="https://A.example:443/, http://b.example:8080").web.origins == (
        "https://a.example", "http://b.example:8080"
    )
    assert config.with_(trusted_proxies="10.0.0.0/8, 127.0.0.1").web.proxies == ("10.0.0.0/8", "127.0.0.1/32")
    for bad in ({"allowed_origins": "*"}, {"allowed_origins": "evil.example"}, {"allowed_origins": "ftp://x.example"},
                {"trusted_proxies": "proxy.local"}, {"public_url": "news.example.org"}):
        with pytest.raises(ConfigError):
            config.with_(**bad)
