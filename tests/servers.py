"""A real HTTP server on 127.0.0.1 for the API path: a scripted fault server (llama.cpp's real server
is started by bench/llamacpp_server.py, shared with the benchmarks)."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

# Kinds a prompt can ask for with "fault=<kind>"; transient ones fail `times=N` calls (default 1).
PERMANENT = {"ctx400", "401", "always500", "echo400"}


class _Loopback:
    """An HTTP server on 127.0.0.1 in a daemon thread, for use as a context manager."""

    def _serve(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class ScriptedServer(_Loopback):
    """An OpenAI-compatible chat endpoint whose answers are scripted by the prompt's text.

    A prompt containing `fault=503;times=2` gets two 503s, then an answer. `every` makes every
    Nth distinct prompt fail once with `every_kind`, for whole-suite runs; `always` fails every call
    with that kind (a server that is down but answers). `delay_s` delays every
    answer (for throughput benchmarks). `reply` is the text of every answer (a judge that always gives
    one verdict). `echo_key` puts the request's Authorization key into every
    successful answer: its text, tool-call arguments, reported model and fingerprint (a careless proxy,
    or a model that was told the key). Counts calls, headers seen and peak concurrency.
    """

    def __init__(self, delay_s: float = 0.0, every: int = 0, every_kind: str = "503", port: int = 0,
                 always: str | None = None, echo_key: bool = False, reply: str | None = None) -> None:
        self.delay_s, self.every, self.every_kind, self.always = delay_s, every, every_kind, always
        self.reply = reply
        self.echo_key = echo_key
        self.calls: Counter[str] = Counter()
        self.auth_headers: set[str] = set()
        self.org_project: set[tuple[str | None, str | None]] = set()
        self.in_flight = 0
        self.peak = 0
        self.bodies: list[dict[str, Any]] = []  # every request body, as received
        # The model behind the endpoint: a new snapshot answers prompts marked "[drifts]" otherwise and
        # reports another model name and fingerprint, as a vendor's silent update would.
        self.snapshot = "1"
        self.lock = threading.Lock()
        self._serve(self._handler(), port)

    def _plan(self, content: str, call: int) -> str | None:
        if self.always:
            return self.always
        match = re.search(r"fault=(\w+)(?:;times=(\d+))?", content)
        if match:
            kind, times = match.group(1), int(match.group(2) or 1)
            return kind if kind in PERMANENT or call <= times else None
        if self.every and call == 1 and sum(map(ord, content)) % self.every == 0:
            return self.every_kind
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the client's
            # delayed ACK (~40 ms), which would be measured as client overhead.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send(200, json.dumps({"object": "list", "data": [{"id": "scripted"}]}).encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length))
                server.bodies.append(request)
                server.auth_headers.add(self.headers.get("Authorization", ""))
                server.org_project.add((self.headers.get("OpenAI-Organization"), self.headers.get("OpenAI-Project")))
                messages = request.get("messages") or [{"content": request.get("prompt", "")}]
                content = str(messages[-1]["content"])
                with server.lock:
                    server.calls[content] += 1
                    call = server.calls[content]
                    server.in_flight += 1
                    server.peak = max(server.peak, server.in_flight)
                try:
                    self._answer(request, content, server._plan(content, call))
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
                body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
                self._send(status, json.dumps(body).encode(), headers)

            def _answer(self, request: dict, content: str, fault: str | None) -> None:
                if fault == "slow":
                    time.sleep(3)
                elif fault == "reset":
                    # SO_LINGER 0 makes close() send a TCP reset instead of a clean FIN.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                simple = {"429": (429, {}), "429ra": (429, {"Retry-After": "1"}), "500": (500, {}),
                          "502": (502, {}), "503": (503, {}), "always500": (500, {}), "401": (401, {})}
                if fault in simple:
                    status, headers = simple[fault]
                    return self._error(status, f"scripted {fault}", headers)
                if fault == "ctx400":
                    return self._error(400, "This model's maximum context length is 2048 tokens.")
                if fault == "echo400":
                    return self._error(400, f"bad request from key {self.headers.get('Authorization', '')}")
                if fault == "badjson":
                    return self._send(200, b'{"id": "x", "choices": [')
                if server.delay_s:
                    time.sleep(server.delay_s)
                answer = server.reply if server.reply is not None else f"ok {content[-12:]}"
                if server.snapshot != "1" and "[drifts]" in content:
                    answer = "a new snapshot answers otherwise"
                key = self.headers.get("Authorization", "").removeprefix("Bearer ") if server.echo_key else ""
                if key:
                    answer += f" (you sent {key})"
                choice: dict[str, Any] = {"index": 0, "finish_reason": "stop"}
                if "prompt" in request:  # legacy completions
                    choice["text"] = answer
                elif request.get("tools"):  # call the first tool with the prompt's tail, as a model would
                    name = request["tools"][0]["function"]["name"]
                    arguments = json.dumps({"text": content[-12:] + key})
                    choice.update(finish_reason="tool_calls", message={"role": "assistant", "content": None,
                                  "tool_calls": [{"id": "call_1", "type": "function",
                                                  "function": {"name": name, "arguments": arguments}}]})
                else:
                    choice["message"] = {"role": "assistant", "content": answer}
                choices = [] if fault == "empty" else [choice]
                model, fingerprint = ("scripted-1", "fp_scripted") if server.snapshot == "1" else (
                    f"scripted-{server.snapshot}", f"fp_{server.snapshot}")
                model, fingerprint = (model + key, fingerprint + key) if key else (model, fingerprint)
                body = {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model,
                        "system_fingerprint": fingerprint, "choices": choices,
                        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
                self._send(200, json.dumps(body).encode())

        return Handler


class _JsonHandler(BaseHTTPRequestHandler):
    """Keep-alive JSON answers with status 200, and no request log: what the chat servers share."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class WobblyServer(_Loopback):
    """An OpenAI-compatible chat endpoint that answers like a temperature-0 API: mostly the same text for
    the same prompt, but some calls come back reworded (about `share` of them, chosen per model, prompt
    and call by a hash, so every run is reproducible). `canonical(prompt)` is the usual answer."""

    WORDS = ("the", "blue", "river", "runs", "past", "the", "old", "mill", "every", "morning")

    def __init__(self, share: float = 0.4) -> None:
        self.share = share
        self.calls: Counter[tuple[str, str]] = Counter()
        self.lock = threading.Lock()
        self._serve(self._handler())

    @classmethod
    def canonical(cls, prompt: str) -> str:
        return f"{prompt.split()[-1]}: " + " ".join(cls.WORDS)

    def answer(self, model: str, prompt: str) -> str:
        with self.lock:
            self.calls[(model, prompt)] += 1
            call = self.calls[(model, prompt)]
        digest = hashlib.sha256(f"{model}|{prompt}|{call}".encode()).digest()
        if digest[0] / 256 >= self.share:
            return self.canonical(prompt)
        words = list(self.WORDS)
        for i in (1, 2, 6, 7):  # four of ten words reworded: ROUGE-L F1 about 0.6 against the usual answer
            words[i] = ("green", "lake", "new", "barn")[(i + digest[1]) % 4]
        return f"{prompt.split()[-1]}: " + " ".join(words)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_JsonHandler):
            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "wobbly"}]})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                text = server.answer(request.get("model", ""), str(request["messages"][-1]["content"]))
                self._send({"id": "chatcmpl-w", "object": "chat.completion", "created": 0,
                            "model": request.get("model", ""), "system_fingerprint": "fp_wobbly",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}],
                            "usage": {"prompt_tokens": 12, "completion_tokens": 12, "total_tokens": 24}})

        return Handler


def wobbly_log(path: Path, docs: int = 120) -> Path:
    """A traffic log of `docs` text requests answered with WobblyServer's usual answers."""
    lines = []
    for i in range(docs):
        prompt = f"Describe the view from window {i}"
        request = {"model": "inc", "temperature": 0, "messages": [
            {"role": "system", "content": "You answer in one line."}, {"role": "user", "content": prompt}]}
        response = {"id": f"chatcmpl-{i}", "object": "chat.completion", "created": 1764800000 + i, "model": "inc",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": WobblyServer.canonical(prompt)}}],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 12, "total_tokens": 24}}
        lines.append(json.dumps({"request": request, "response": response}))
    path.write_text("\n".join(lines) + "\n")
    return path


class FormatServer(_Loopback):
    """An OpenAI-compatible chat endpoint that takes `response_format` and `tools` and either keeps to
    them (`honour=True`: the smallest JSON the schema accepts; a call of the required or named tool with
    the smallest arguments its parameters accept) or ignores them, as a server that dropped the fields
    would (`honour=False`: free text, no call). Records every request body in `bodies`."""

    def __init__(self, honour: bool) -> None:
        self.honour = honour
        self.bodies: list[dict[str, Any]] = []
        self._serve(self._handler())

    def message(self, request: dict[str, Any]) -> dict[str, Any]:
        from harness.providers.fake import schema_instance

        choice, tools = request.get("tool_choice"), request.get("tools") or []
        if self.honour and tools and (choice == "required" or isinstance(choice, dict)):
            name = choice["function"]["name"] if isinstance(choice, dict) else tools[0]["function"]["name"]
            schema = next(t["function"].get("parameters") or {} for t in tools if t["function"]["name"] == name)
            call = {"id": "call_1", "type": "function",
                    "function": {"name": name, "arguments": json.dumps(schema_instance(schema))}}
            return {"role": "assistant", "content": None, "tool_calls": [call]}
        response_format = request.get("response_format") or {}
        if self.honour and response_format.get("type") in ("json_object", "json_schema"):
            schema = (response_format.get("json_schema") or {}).get("schema") or {"type": "object"}
            return {"role": "assistant", "content": json.dumps(schema_instance(schema))}
        return {"role": "assistant", "content": "Sure! Here is what you asked for, in plain words."}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_JsonHandler):
            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "format"}]})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                server.bodies.append(request)
                message = server.message(request)
                self._send({"id": "chatcmpl-f", "object": "chat.completion", "created": 0, "model": "format",
                            "choices": [{"index": 0, "message": message,
                                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18}})

        return Handler


class LookupServer(_Loopback):
    """An OpenAI-compatible chat endpoint that answers by the last turn's text: `answers[text]` is the
    assistant message to send (text and/or tool calls); any other request gets `default` as text."""

    def __init__(self, answers: dict[str, dict[str, Any]], default: str = "I do not know.") -> None:
        self.answers, self.default = answers, default
        self._serve(self._handler())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_JsonHandler):
            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "lookup"}]})

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                last = str(request["messages"][-1].get("content") or "")
                message = {"role": "assistant", **server.answers.get(last, {"content": server.default})}
                self._send({"id": "chatcmpl-l", "object": "chat.completion", "created": 0, "model": "lookup",
                            "choices": [{"index": 0, "message": message,
                                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                            "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}})

        return Handler


class ChatUpstream(_Loopback):
    """An OpenAI-compatible chat endpoint for a proxy to stand in front of: the last user turn picks
    the answer. `status=400` (429, 500) answers that error; `drop` closes the connection without a word;
    anything else is answered "echo: <text>", streamed as Server-Sent Events (a chunk per word, then a
    usage chunk) when the request asks for a stream. Counts requests."""

    def __init__(self) -> None:
        self.requests = 0
        self.lock = threading.Lock()
        self._serve(self._handler())

    @staticmethod
    def chunks(text: str) -> list[dict[str, Any]]:
        base = {"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1764800000, "model": "up-1"}
        words = text.split(" ")
        out = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
        out += [{**base, "choices": [{"index": 0, "delta": {"content": w if i == 0 else " " + w}}]}
                for i, w in enumerate(words)]
        out.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        out.append({**base, "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": len(words),
                                                     "total_tokens": 9 + len(words)}})
        return out

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(_JsonHandler):
            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                with server.lock:
                    server.requests += 1
                last = str(request["messages"][-1].get("content") or "")
                if last == "drop":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if last.startswith("status="):
                    status = int(last.removeprefix("status="))
                    data = json.dumps({"error": {"message": f"upstream says {status}", "type": "x", "code": None}})
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data.encode())
                    return
                text = f"echo: {last}"
                if request.get("stream"):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in [*server.chunks(text), "[DONE]"]:
                        event = f"data: {chunk if isinstance(chunk, str) else json.dumps(chunk)}\n\n".encode()
                        self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self._send({"id": "chatcmpl-up", "object": "chat.completion", "created": 1764800000, "model": "up-1",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": text}}],
                            "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}})

        return Handler
