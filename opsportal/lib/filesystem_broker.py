"""Celery's filesystem broker (the embedded default) without torn messages.

kombu 5.7's filesystem transport creates a message file, then serialises the message, then writes it; a worker
listing the folder meanwhile moves the file away and reads it empty or half written, and its `json.loads` error ends
the worker (seen in `tests/faults/test_sqlite_under_load.py` under load). Here a message is written under a name the
consumers skip (`.partial-…`: not `<queue>.msg` after the first dot) and renamed to its final name once complete, in
the same folder, so a consumer only ever sees whole messages. Everything else is kombu's own transport.

opsportal/celery.py registers this Transport as kombu's `filesystem` alias, so `filesystem://` URLs use it in every
process (web, worker, beat).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

PARTIAL_PREFIX = ".partial-"


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put `payload` onto `queue`: written under a partial name, then renamed (atomic in one folder)."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, PARTIAL_PREFIX + name.replace(".", "-"))
        data = str_to_bytes(dumps(payload))
        try:
            with open(partial, "wb", buffering=0) as handle:
                handle.write(data)
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
