#!/usr/bin/python3
"""
python3-websockets (Debian's 10.4) as a WebSocket peer for the interop tests.

  ws-python-peer.py server        serve on 127.0.0.1 (port chosen by the OS); prints
                                  {"listening": PORT}, then one JSON line per event
  ws-python-peer.py client URL    run the client checks against an echo server at URL
                                  (one JSON line per check), then exit 0

The server echoes every message. On the path /frag it echoes in fragments of at most 1000
bytes (cut anywhere, also inside a UTF-8 sequence). Text commands:
  cmd:ping            ping the client, wait for its pong, answer "pong received"
  cmd:close           close with 4000 "python bye"
  cmd:split-utf8      send "h€llo" as three frames cutting the euro sign
Each connection's end is reported as {"event": "closed", "code": ..., "reason": ...} (the code
and reason of the client's close frame).

The client prints {"check": NAME, "ok": true|false, ...} lines.
"""
import asyncio
import hashlib
import json
import sys

import websockets
from websockets.exceptions import ConnectionClosed

MAX = 1 << 20


def emit(obj):
    print(json.dumps(obj), flush=True)


async def send_fragments(ws, data, limit):
    raw = data.encode("utf-8") if isinstance(data, str) else data
    opcode = 1 if isinstance(data, str) else 2
    if len(raw) <= limit:
        await ws.write_frame(True, opcode, raw)
        return
    at = 0
    while at < len(raw):
        end = min(at + limit, len(raw))
        await ws.write_frame(end == len(raw), opcode if at == 0 else 0, raw[at:end])
        at = end


async def handler(ws):
    frag = ws.path.startswith("/frag")
    try:
        async for msg in ws:
            if isinstance(msg, str) and msg.startswith("cmd:"):
                cmd = msg[4:]
                if cmd == "ping":
                    waiter = await ws.ping(b"from python")
                    await asyncio.wait_for(waiter, 5)
                    await ws.send("pong received")
                elif cmd == "close":
                    await ws.close(4000, "python bye")
                elif cmd == "split-utf8":
                    raw = "h\u20acllo".encode("utf-8")  # h E2 82 AC l l o
                    await ws.write_frame(False, 1, raw[:2])
                    await ws.write_frame(False, 0, raw[2:3])
                    await ws.write_frame(True, 0, raw[3:])
                else:
                    await ws.send("unknown command")
            elif frag:
                await send_fragments(ws, msg, 1000)
            else:
                await ws.send(msg)
    except ConnectionClosed:
        pass
    finally:
        await ws.wait_closed()
        emit({"event": "closed", "path": ws.path, "code": ws.close_code, "reason": ws.close_reason})


async def serve():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=MAX, compression=None) as server:
        port = server.sockets[0].getsockname()[1]
        emit({"listening": port})
        await asyncio.Future()


def digest(b):
    return hashlib.sha256(b).hexdigest()


async def client(url):
    async def check(name, fn):
        try:
            detail = await fn()
            emit({"check": name, "ok": True, **(detail or {})})
        except Exception as e:  # report and go on
            emit({"check": name, "ok": False, "error": repr(e)})

    async with websockets.connect(url, compression=None, max_size=MAX) as ws:

        async def echo_text(s):
            await ws.send(s)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == s, f"text echo differs: {got[:40]!r}"

        async def echo_bytes(b):
            await ws.send(b)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert isinstance(got, bytes), "binary came back as text"
            assert got == b, f"binary echo differs ({len(got)} bytes)"

        await check("text", lambda: echo_text("hello from python"))
        await check("multibyte text", lambda: echo_text("h\u00e9llo w\u00f6rld \u20ac \U0001d11e \u65e5\u672c"))
        await check("empty text", lambda: echo_text(""))
        for n in (0, 1, 125, 126, 65535, 65536):
            data = bytes((i * 7 + n) & 0xFF for i in range(n))
            await check(f"binary {n}", lambda data=data: echo_bytes(data))

        async def fragmented():
            # websockets sends an iterable as one fragmented message
            parts = ["fr\u00e4g", "mented ", "\u20ac" * 100]
            await ws.send(parts)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == "".join(parts)
            bparts = [bytes([i]) * 3000 for i in range(5)]
            await ws.send(bparts)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == b"".join(bparts)

        await check("fragmented", fragmented)

        async def split_utf8():
            raw = "a\u20acb\U0001d11ec".encode("utf-8")
            for i, (fin, op, part) in enumerate([(False, 1, raw[:2]), (False, 0, raw[2:5]), (True, 0, raw[5:])]):
                await ws.write_frame(fin, op, part)
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == "a\u20acb\U0001d11ec", repr(got)

        await check("utf-8 split across fragments", split_utf8)

        async def ping():
            waiter = await ws.ping(b"py")
            await asyncio.wait_for(waiter, 5)

        await check("ping answered by pong", ping)

        async def server_ping():
            await ws.send("cmd:ping")
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == "pong received", got

        await check("server ping answered", server_ping)

        async def close_4000():
            await ws.close(4000, "python bye")
            return {"code": ws.close_code, "reason": ws.close_reason}

        await check("close 4000", close_4000)

    async with websockets.connect(url, compression=None, max_size=MAX) as ws:

        async def server_closes():
            await ws.send("cmd:close1001")
            try:
                await asyncio.wait_for(ws.recv(), 5)
                raise AssertionError("a message instead of a close")
            except ConnectionClosed as e:
                return {"code": e.rcvd.code if e.rcvd else None, "reason": e.rcvd.reason if e.rcvd else None}

        await check("server closes 1001", server_closes)

    # our writer cuts big messages into frames (the /frag server path has maxFrame 1000)
    frag_url = url.rsplit("/", 1)[0] + "/frag"
    async with websockets.connect(frag_url, compression=None, max_size=MAX) as ws:

        async def big():
            await ws.send("cmd:text:3000")
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == "\u20ac" * 3000, f"{len(got)} chars"
            await ws.send("cmd:bin:200000")
            got = await asyncio.wait_for(ws.recv(), 5)
            assert got == bytes(i & 0xFF for i in range(200000)), f"{len(got)} bytes"

        await check("fragmented by our writer", big)


def main():
    if sys.argv[1] == "server":
        asyncio.run(serve())
    else:
        asyncio.run(client(sys.argv[2]))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
