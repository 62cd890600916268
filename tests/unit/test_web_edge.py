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
from rag.web.middleware import ForwardedHeaders, RateLimiter, RequestLimits, ResponseHeaders, SameOrigin, post_route
from rag.web.uploads import UploadLedger


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


def limits(rate: int = 0, arity=lambda route, body: 2, **kwargs) -> TestClient:
    return app_with((RequestLimits, {"max_upload_bytes": 1000, "rate_limit": rate, "arity": arity,
                                     "api_names": ["ask"], **kwargs}))


def test_request_bodies_are_bounded_in_size_depth_and_arity():
    web = limits()
    ok = web.post("/gradio_api/call/ask", json={"data": ["q", []]})
    assert ok.status_code == 200 and ok.json()["bytes"] > 0  # the body reaches the app intact
    message = "This endpoint takes 2 values in 'data'."
    assert web.post("/gradio_api/call/ask", json={"data": ["q"]}).json() == {"detail": message}
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
    assert web.post("/gradio_api/cancel", json={"session_hash": "s", "fn_index": 0}).status_code == 200


SPELLINGS = ["/gradio_api/call/ask", "/gradio_api/call/ask/", "/gradio_api/call/v2/ask", "/gradio_api/call/v2/ask/",
             "/gradio_api/queue/join", "/gradio_api/queue/join/"]


def test_every_spelling_of_a_work_route_is_rate_limited_or_refused():
    web = limits(rate=len(SPELLINGS))
    for path in SPELLINGS:  # one allowance shared by every route that starts work
        assert web.post(path, json={"data": [1, 2], "fn_index": 0}).status_code == 200, path
    assert {web.post(path, json={"data": [1, 2]}).status_code for path in SPELLINGS} == {429}
    # Percent-encoding is decoded before routing, so it is the same route and the same allowance.
    assert web.post("/gradio_api/call/%61sk", json={"data": [1, 2]}).status_code == 429
    # Other spellings reach no route of the page or the API: refused, whatever Gradio would do with them.
    fresh = limits(rate=1000)
    for path in ["http://news.example.org//gradio_api/call/ask", "/gradio_api//call/ask", "/gradio_api/call/ask//", "/GRADIO_API/call/ask",
                 "/gradio_api/Call/ask", "/gradio_api/run/ask", "/gradio_api/api/ask", "/gradio_api/call/other",
                 "/gradio_api/component_server", "/gradio_api/stream/abc", "/gradio_api/process_recording",
                 "/gradio_api/vibe-edit", "/gradio_api/run/other", "/anything"]:
        assert fresh.post(path, json={"data": [1, 2]}).status_code == 404, path
    assert fresh.put("/gradio_api/call/ask", json={"data": [1, 2]}).status_code == 405
    assert fresh.get("http://news.example.org//gradio_api/token").status_code == 404
    assert post_route("/gradio_api/call/v2/ask", ["ask"]).keywords
    assert post_route("/gradio_api/reset", ["ask"]).kind == "control"
    # The page's events that skip the queue (Clear, New conversation) post to run/predict with their fn_index.
    assert post_route("/gradio_api/run/predict", ["ask"]).kind == "work"


@pytest.mark.parametrize("content_type", ["application/JSON", "Application/Json; charset=utf-8",
                                          "application/vnd.api+JSON", "APPLICATION/JSON ; charset=UTF-8"])
def test_json_checks_hold_whatever_the_content_types_spelling(content_type):
    web = limits()
    deep = '{"data": ["q", ' + "[" * 33 + "]" * 33 + "]}"
    r = web.post("/gradio_api/call/ask", content=deep, headers={"Content-Type": content_type})
    assert r.status_code == 400 and "nested" in r.json()["detail"]
    r = web.post("/gradio_api/call/ask", content='{"data": ["q"]}', headers={"Content-Type": content_type})
    assert r.json()["detail"] == "This endpoint takes 2 values in 'data'."


def test_work_routes_take_only_json_and_keyword_calls_are_bounded_too():
    web = limits()
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"):
        r = web.post("/gradio_api/call/ask", content='{"data": ["q", []]}', headers={"Content-Type": kind})
        assert r.status_code == 415, kind
    deep = '{"question": ' + "[" * 33 + "]" * 33 + "}"
    assert "nested" in web.post("/gradio_api/call/v2/ask", content=deep).json()["detail"]
    assert web.post("/gradio_api/call/v2/ask", json={"question": "q", "history": []}).status_code == 200
    too_many = {f"k{n}": n for n in range(10)}
    assert web.post("/gradio_api/call/v2/ask", json=too_many).json()["detail"] == "This endpoint takes at most 2 values."


def test_a_page_session_belongs_to_the_user_who_opened_it():
    user = {"name": "alice"}
    web = limits(owner=lambda scope: user["name"])
    join = {"data": [1, 2], "fn_index": 0, "session_hash": "s3cr3t"}
    assert web.post("/gradio_api/queue/join", json=join).status_code == 200
    assert web.get("/gradio_api/queue/data?session_hash=s3cr3t").status_code == 200
    user["name"] = "mallory"
    assert web.post("/gradio_api/queue/join", json=join).status_code == 403
    for path in ("/gradio_api/queue/data?session_hash=s3cr3t", "/gradio_api/queue/data/?session_hash=s3cr3t",
                 "/gradio_api/heartbeat/s3cr3t"):
        assert web.get(path).status_code == 403, path
    assert web.post("/gradio_api/cancel", json={"session_hash": "s3cr3t", "fn_index": 0}).status_code == 403
    assert web.post("/gradio_api/queue/join", json={**join, "session_hash": "mine"}).status_code == 200


def test_uploads_need_a_role_and_fit_the_users_quota(tmp_path):
    who = {"user": None}
    ledger = UploadLedger(tmp_path, quota=3000, max_age=60)
    web = limits(uploader=lambda scope: who["user"], uploads=ledger)
    assert web.post("/gradio_api/upload", files={"files": ("a.txt", b"x" * 100)}).status_code == 403
    who["user"] = "user:alice"
    stored = tmp_path / "a" / "a.txt"
    stored.parent.mkdir()
    stored.write_bytes(b"x" * 2000)
    ledger.stored("user:alice", 0, [str(stored)])  # what an earlier upload left, not indexed yet
    assert web.post("/gradio_api/upload", files={"files": ("b.txt", b"x" * 500)}).status_code == 200
    refused = web.post("/gradio_api/upload", files={"files": ("c.txt", b"x" * 1500)})
    assert refused.status_code == 413 and "allowance" in refused.json()["detail"]
    who["user"] = "user:bob"  # another user's allowance is their own
    assert web.post("/gradio_api/upload", files={"files": ("c.txt", b"x" * 1500)}).status_code == 200
    who["user"] = "user:alice"
    ledger.discard([stored])  # indexed: deleted, and its bytes are free again
    assert not stored.exists() and not stored.parent.exists()
    assert web.post("/gradio_api/upload", files={"files": ("c.txt", b"x" * 1500)}).status_code == 200


def test_abandoned_uploads_are_swept(tmp_path):
    import os

    now = [10_000.0]
    recorded = set()
    ledger = UploadLedger(tmp_path, quota=10, max_age=600, recorded=recorded, clock=lambda: now[0])
    old, new = tmp_path / "h1" / "old.txt", tmp_path / "h2" / "new.txt"
    for path, age in ((old, 601), (new, 10)):
        path.parent.mkdir()
        path.write_text("x")
        os.utime(path, (now[0] - age, now[0] - age))
        recorded.add(str(path))
    assert ledger.sweep() == 1
    assert not old.exists() and not old.parent.exists() and new.exists() and recorded == {str(new)}
    assert tmp_path.is_dir()


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
