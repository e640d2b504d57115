#!/usr/bin/python3
"""Many SMTP clients sending one large message each, all at once (issue 13's memory test).
Every client sends the same body from one shared buffer, in 64 KiB writes that wait for the
socket, so that this process stays small while volleyd receives clients * size octets. Every
other client announces SIZE=. Prints one JSON line: the final reply of each client."""
import argparse
import asyncio
import json


async def one(index, args, body):
    reader, writer = await asyncio.open_connection("127.0.0.1", args.port)

    async def reply():
        while True:
            line = await reader.readline()
            if not line:
                return "(closed)"
            if line[3:4] != b"-":
                return line.decode(errors="replace").rstrip()

    try:
        for command in [None, b"EHLO flood.client.test\r\n"]:
            if command:
                writer.write(command)
            if not (await reply()).startswith(("220", "250")):
                return "(no greeting)"
        size = f" SIZE={len(body) + 2}" if index % 2 == 0 else ""
        writer.write(f"MAIL FROM:<flood{index}@client.test>{size}\r\n".encode())
        answer = await reply()
        if not answer.startswith("250"):
            return answer
        writer.write(f"RCPT TO:<flood{index}@example.test>\r\n".encode())
        answer = await reply()
        if not answer.startswith("250"):
            return answer
        writer.write(b"DATA\r\n")
        answer = await reply()
        if not answer.startswith("354"):
            return answer
        view = memoryview(body)
        for offset in range(0, len(body), 65536):
            writer.write(view[offset:offset + 65536])
            await writer.drain()
        writer.write(b"\r\n.\r\n")
        answer = await reply()
        writer.write(b"QUIT\r\n")
        await writer.drain()
        return answer
    except (ConnectionError, asyncio.IncompleteReadError) as e:
        return f"(connection error: {e})"
    finally:
        writer.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--clients", type=int, default=200)
    p.add_argument("--mib", type=int, default=20)
    args = p.parse_args()
    line = b"x" * 76 + b"\r\n"
    body = b"Subject: flood\r\n\r\n" + line * (args.mib * 1024 * 1024 // len(line))
    results = await asyncio.wait_for(
        asyncio.gather(*(one(i, args, body) for i in range(args.clients))), timeout=600)
    print(json.dumps({"replies": results}))


if __name__ == "__main__":
    asyncio.run(main())
