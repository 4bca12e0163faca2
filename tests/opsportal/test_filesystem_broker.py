"""The embedded default's filesystem broker never hands a worker a half-written message.

kombu's own filesystem transport creates the message file before it serialises the message: a consumer that lists the
folder meanwhile reads it empty, and the worker dies on the JSON error. A message that takes a while to serialise
(a few MB, as a long task argument would) makes that window wide enough to hit every time: the stock transport is the
negative control, the portal's (registered for filesystem:// by opsportal/celery.py) must deliver every message whole.
"""

from __future__ import annotations

import json
import multiprocessing
import time

import pytest
from kombu import Connection
from kombu.transport import resolve_transport

import opsportal.celery  # noqa: F401 - registers the portal's transport for filesystem://

MESSAGES = 6


def _options(folder) -> dict:
    return {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(folder)}


def _produce(folder, transport: str) -> None:
    with Connection("filesystem://", transport=transport, transport_options=_options(folder)) as connection:
        channel = connection.channel()
        for index in range(MESSAGES):
            channel._put("jobs", {"index": index, "argument": ["x" * 10] * 1_500_000})


def _consume(folder, transport: str) -> tuple[list[int], int]:
    producer = multiprocessing.get_context("fork").Process(target=_produce, args=(folder, transport))
    producer.start()
    received, torn = [], 0
    with Connection("filesystem://", transport=transport, transport_options=_options(folder)) as connection:
        channel = connection.channel()
        deadline = time.monotonic() + 60
        while len(received) + torn < MESSAGES and time.monotonic() < deadline:
            try:
                message = channel._get("jobs")
            except json.JSONDecodeError:
                torn += 1
                continue
            except Exception as exc:  # noqa: BLE001 - kombu's Empty: nothing there yet
                if type(exc).__name__ != "Empty":
                    raise
                continue
            assert len(message["argument"]) == 1_500_000
            received.append(message["index"])
    producer.join(30)
    return received, torn


def test_filesystem_urls_use_the_portals_transport():
    assert resolve_transport("filesystem").__module__ == "opsportal.lib.filesystem_broker"


def test_the_stock_transport_hands_out_torn_messages(tmp_path):
    received, torn = _consume(tmp_path, "kombu.transport.filesystem:Transport")
    assert torn > 0, f"the negative control saw no torn message (received {received})"


@pytest.mark.parametrize("run", range(2))
def test_every_message_arrives_whole_through_the_portals_transport(tmp_path, run):
    received, torn = _consume(tmp_path, "filesystem")
    assert torn == 0
    assert received == list(range(MESSAGES))
    assert not list(tmp_path.glob(".partial-*"))
