"""Talks to a running Jupyter notebook server the way a browser front end does.

Usage: server_check.py BASE_URL TOKEN CODE
Lists kernelspecs (GET /api/kernelspecs), starts a tensorbook kernel (POST /api/kernels),
sends one execute_request over the websocket channels API and collects the replies until the
kernel is idle again, then shuts the kernel down (DELETE). Prints one JSON object:
{"kernelspecs": [...], "status": "ok", "execute_result": {...}, "streams": [...], "errors": [...]}.
Uses tornado's HTTP and websocket clients (Debian's python3-tornado, a notebook dependency).
"""

import asyncio
import json
import sys
import uuid

from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.websocket import websocket_connect


async def main(base, token, code):
    http = AsyncHTTPClient()
    headers = {"Authorization": f"token {token}"}

    async def call(method, path, body=None):
        req = HTTPRequest(f"{base}{path}", method=method, headers=headers,
                          body=None if body is None else json.dumps(body), request_timeout=60)
        res = await http.fetch(req)
        return json.loads(res.body) if res.body else None

    specs = await call("GET", "/api/kernelspecs")
    kernel = await call("POST", "/api/kernels", {"name": "tensorbook"})
    result = {"kernelspecs": sorted(specs["kernelspecs"]), "default": specs.get("default"), "execute_result": None,
              "streams": [], "errors": [], "status": None}
    try:
        ws_url = base.replace("http://", "ws://") + f"/api/kernels/{kernel['id']}/channels?token={token}"
        ws = await websocket_connect(ws_url, connect_timeout=60)
        msg_id = uuid.uuid4().hex
        session = uuid.uuid4().hex
        ws.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": session,
                       "date": "", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        replied = idle = False
        while not (replied and idle):
            raw = await asyncio.wait_for(ws.read_message(), timeout=90)
            if raw is None:
                raise RuntimeError("websocket closed before the kernel went idle")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["header"]["msg_type"]
            if kind == "execute_result":
                result["execute_result"] = msg["content"]
            elif kind == "stream":
                result["streams"].append(msg["content"])
            elif kind == "error":
                result["errors"].append(msg["content"])
            elif kind == "execute_reply":
                result["status"] = msg["content"]["status"]
                replied = True
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
        ws.close()
    finally:
        await call("DELETE", f"/api/kernels/{kernel['id']}")
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
