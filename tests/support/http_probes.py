"""Asking a metrics port's HTTP checks (services/shared/probes.py) from a test."""

import asyncio
import json
import time
import urllib.error
import urllib.request


def get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


async def probe(port: int, path: str) -> tuple[int, dict[str, str]]:
    status, body = await asyncio.to_thread(get, port, path)
    return status, json.loads(body)


async def until_status(
    port: int, path: str, status: int, *, timeout_s: float = 30.0
) -> dict[str, str]:
    """Ask until the answer has `status` (the port may not listen yet); returns its JSON body."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            answer = await probe(port, path)
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as error:
            last = error
        else:
            if answer[0] == status:
                return answer[1]
            last = answer
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} on port {port} never answered {status}; last: {last}")
