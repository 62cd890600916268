"""Hand-made requests against a running app: no event or API endpoint may read a server file.

A browser only sends what the page's components produce; an attacker posts JSON to Gradio's queue
directly. Here every event and every API endpoint listed in the app's /config gets Gradio file
payloads (`{"path": ..., "meta": {"_type": "gradio.FileData"}}`, alone and in a list) naming
server files, in every input slot. Then nothing secret may appear in any response, no copy of it
may be left in Gradio's upload/cache folder, and no path a response mentions may be fetched.
"""

from __future__ import annotations

import json
import os
import re
import uuid

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx  # noqa: E402
import pytest  # noqa: E402

from tests.ui.app_server import ROOT, app_server  # noqa: E402

pytestmark = pytest.mark.ui

SECRET = f"secret-{uuid.uuid4().hex}"
PASSWD = "root:x:0:0"


@pytest.fixture(scope="module")
def attacked(tmp_path_factory, app_folders):
    base = tmp_path_factory.mktemp("attack")
    corpus, index = app_folders()
    (index / "api.env").write_text(f"OPENAI_API_KEY={SECRET}\n")
    uploads = base / "gradio-uploads"
    outside = base / "outside.txt"  # a .txt anywhere on the server: the upload event must refuse it
    outside.write_text(f"An article-like text that holds {SECRET} and more words to look like news.\n")
    # Hundreds of requests from one address: the rate limit (tested on its own) is off here.
    env = {"GRADIO_TEMP_DIR": str(uploads), "RAG_TEST_SECRET": SECRET, "RAG_RATE_LIMIT": "0"}
    with app_server(env=env, corpus_dir=corpus, index_dir=index) as server:
        (server.corpus_dir / ".env").write_text(f"KEY={SECRET}\n")
        targets = [
            "/etc/passwd", "/proc/self/environ", str(index / "api.env"), str(server.corpus_dir / ".env"),
            str(outside), str(ROOT / "README.md"), str(uploads / ".." / "outside.txt"), "../../../../etc/passwd",
        ]
        corpus_before = sorted(p.name for p in server.corpus_dir.iterdir())
        yield server, targets, uploads, corpus_before


def file_payloads(target: str) -> list:
    data = {"path": target, "meta": {"_type": "gradio.FileData"}, "orig_name": os.path.basename(target)}
    # A chat message that is a file component: Gradio's Chatbot would build a gr.File from it
    # on the server, copying the named file into its cache, if the chat were an input.
    message = {"role": "user", "content": {"type": "component", "component": "file", "value": {"path": target}}}
    return [data, [data], {**data, "url": f"/gradio_api/file={target}"}, [message], {"messages": [message]}]


def slot_payloads(targets: list[str]) -> list:
    """Every target in two payload shapes, every shape with at least three targets.

    The full product (8 targets x 5 shapes in every slot of every event) took two minutes of the
    suite; a path is resolved the same way whatever shape carries it, so rotating the shapes over
    the targets still sends each shape and each path into every slot.
    """
    chosen = []
    for i, target in enumerate(targets):
        shapes = file_payloads(target)
        chosen += [shapes[i % len(shapes)], shapes[(i + 2) % len(shapes)]]
    return chosen


def run_event(web: httpx.Client, dep: dict, data: list) -> str:
    """One queue request, as the browser's client sends it; returns the whole event stream."""
    session = uuid.uuid4().hex[:12]
    trigger = (dep.get("targets") or [[None]])[0][0]
    body = {"fn_index": dep["id"], "data": data, "session_hash": session, "event_data": None, "trigger_id": trigger}
    joined = web.post("/gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return joined.text
    with web.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}, timeout=60) as r:
        return "".join(r.iter_text())


def test_no_event_or_api_endpoint_reads_server_files(attacked):
    server, targets, uploads, corpus_before = attacked
    web = httpx.Client(base_url=server.url, timeout=60)
    config = web.get("/config").json()
    defaults = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}
    outputs: list[str] = []
    assert config["dependencies"], "the app lists its events"
    for dep in config["dependencies"]:
        base = [defaults.get(i) for i in dep["inputs"]]
        for slot in range(len(base)):
            for payload in slot_payloads(targets):
                data = list(base)
                data[slot] = payload
                outputs.append(run_event(web, dep, data))
        api_name = dep.get("api_name")
        if api_name and dep.get("api_visibility", "public") == "public":
            for target in targets:
                for payload in file_payloads(target):
                    r = web.post(f"/gradio_api/call/{api_name}", json={"data": [payload, [], None, None]})
                    outputs.append(r.text)
                    if r.status_code == 200:
                        event_id = r.json()["event_id"]
                        outputs.append(web.get(f"/gradio_api/call/{api_name}/{event_id}").text)

    everything = "\n".join(outputs)
    assert SECRET not in everything and PASSWD not in everything

    # No copy of a server file was made where Gradio serves files from.
    for folder, _, names in os.walk(uploads):
        for name in names:
            content = open(os.path.join(folder, name), "rb").read()
            assert SECRET.encode() not in content and PASSWD.encode() not in content, name

    # Neither the named files nor any path a response mentioned can be fetched.
    mentioned = set(re.findall(r"(/[\w./-]+)", everything))
    for path in set(targets) | {p for p in mentioned if p.startswith(str(uploads)) or p.startswith("/tmp")}:
        r = web.get(f"/gradio_api/file={path}")
        assert r.status_code in (403, 404) or (SECRET not in r.text and PASSWD not in r.text), path
        assert SECRET not in r.text and PASSWD not in r.text

    # A file that sits in Gradio's upload folder without having been uploaded is refused too,
    # with the same message as any other path.
    planted = uploads / "planted" / "story.txt"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f"The zebra count by {SECRET} rose again this season, park rangers said on Monday.\n")
    upload_event = next(d for d in config["dependencies"] if len(d["inputs"]) == 1 and d["outputs"] and
                        any(c["id"] == d["inputs"][0] and c.get("type") == "file" for c in config["components"]))
    report = run_event(web, upload_event, [[{"path": str(planted), "meta": {"_type": "gradio.FileData"}}]])
    assert "Uploads must be files sent through the upload button." in report

    # The corpus is unchanged, and the app still answers a real question.
    assert sorted(p.name for p in server.corpus_dir.iterdir()) == corpus_before
    answer = web.post("/gradio_api/call/ask", json={"data": ["Who led the Russian delegation?", [], None, None]})
    result = web.get(f"/gradio_api/call/ask/{answer.json()['event_id']}").text
    assert "Medinsky" in result


@pytest.mark.parametrize(
    "data, message",
    [
        ([{"not": "text"}, [], None, None], "must be text"),
        (["Who?", "not json", None, None], "history"),
        (["Who?", [["a", {"x": 1}]], None, None], "history"),
        (["Who?", [], "abc", None], "top_k"),
        (["Who?", [], -3, None], "top_k"),
        (["Who?", [], 2.5, None], "top_k"),
        (["Who?", [], 5, "next tuesday"], "as_of"),
        (["Who?", [], 5, {"path": "/etc/passwd"}], "as_of"),
    ],
)
def test_bad_api_values_get_an_error_field_not_a_traceback(attacked, data, message):
    server = attacked[0]
    web = httpx.Client(base_url=server.url, timeout=60)
    r = web.post("/gradio_api/call/ask", json={"data": data})
    stream = web.get(f"/gradio_api/call/ask/{r.json()['event_id']}").text
    payload = json.loads(stream.split("data:", 2)[-1].strip().splitlines()[0])
    result = payload[0] if isinstance(payload, list) else payload
    assert isinstance(result, dict) and message in (result.get("error") or ""), stream
    assert "Traceback" not in stream
