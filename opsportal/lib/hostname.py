"""This host's name as the portal records it: MONITOR_HOSTNAME, or the machine's host name.

Health results, worker heartbeats and the backups a worker runs all name their host with it, so hosts that share a
machine name (containers, network namespaces) still appear apart, and a backup's `worker_host` matches the host
whose report lists it.
"""

from __future__ import annotations

import socket

from django.conf import settings


def host_name() -> str:
    return settings.MONITOR_HOSTNAME or socket.gethostname()
