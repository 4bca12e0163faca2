"""Used space of each path in MONITOR_DISK_PATHS (default / and BACKUP_DIR), on every host."""

from __future__ import annotations

import contextlib
import os
import select
import threading
from pathlib import Path

import psutil
from django.conf import settings
from django.utils.translation import gettext_noop as _

from monitoring.checks.base import CheckOutcome, HealthCheck, MetricValue, threshold_status, worst
from monitoring.messages import Message
from monitoring.registry import register


def existing_ancestor(path: Path) -> Path:
    """A folder not created yet (BACKUP_DIR before the first backup) lives on the filesystem of its parent."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


# Filesystems statvfs() answers from memory: local disks, memory and the kernel's own. Anything else (nfs, cifs,
# ceph, 9p, fuse.*, autofs, which mounts one on first use) may wait on a network for as long as it likes.
_DISKS = {"ext2", "ext3", "ext4", "xfs", "btrfs", "zfs", "f2fs", "vfat", "exfat", "ntfs3", "squashfs", "iso9660"}
_UNION_AND_MEMORY = {"overlay", "tmpfs", "ramfs", "devtmpfs", "devpts", "mqueue", "hugetlbfs"}
_KERNEL = {"proc", "sysfs", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "pstore", "bpf", "configfs"}
_KERNEL_MORE = {"efivarfs", "nsfs", "binfmt_misc", "fusectl"}
LOCAL_FILESYSTEMS = frozenset(_DISKS | _UNION_AND_MEMORY | _KERNEL | _KERNEL_MORE)
MOUNTINFO = "/proc/self/mountinfo"


def mount_types(mountinfo: bytes) -> set[str]:
    """The filesystem types of a /proc/<pid>/mountinfo text (the field after the " - " separator)."""
    return {line.split(b" - ", 1)[1].split(b" ", 1)[0].decode() for line in mountinfo.splitlines() if b" - " in line}


class LocalMounts:
    """Whether every filesystem mounted in this process's mount namespace is local (LOCAL_FILESYSTEMS).

    Then no path the disk check reads, whatever symlinks lead it anywhere, can make statvfs() hang, and the runner
    calls it in the request's own thread instead of handing it to a pool thread. The mount table is read again
    only when the kernel says it changed: /proc/self/mountinfo polls as a priority event after every mount and
    unmount, so a network filesystem mounted while the process runs sends the check back to the pool before its
    next run. Any doubt (no /proc, an error) means "not local".
    """

    def __init__(self, path: str = MOUNTINFO, accepted: frozenset[str] = LOCAL_FILESYSTEMS) -> None:
        self.path = path
        self.accepted = accepted
        self.lock = threading.Lock()
        self.file = None
        self.poller = None
        self.local = False

    def all_local(self) -> bool:
        with self.lock:
            try:
                if self.file is None:
                    self.file = open(self.path, "rb")  # noqa: SIM115 - kept open to poll it
                    self.poller = select.poll()
                    self.poller.register(self.file.fileno(), select.POLLPRI | select.POLLERR)
                    self.local = self._read()
                elif any(events & (select.POLLPRI | select.POLLERR) for _fd, events in self.poller.poll(0)):
                    self.local = self._read()
            except OSError:
                self._close()
                self.local = False
            return self.local

    def _read(self) -> bool:
        self.file.seek(0)
        return mount_types(self.file.read()) <= self.accepted

    def _close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()
        self.file = self.poller = None


local_mounts = LocalMounts()


def _reset_after_fork() -> None:
    # The open file and its poll state are shared with the parent: a child must see changes on its own.
    global local_mounts
    local_mounts = LocalMounts()


os.register_at_fork(after_in_child=_reset_after_fork)


@register
class DiskCheck(HealthCheck):
    name = "disk"
    per_host = True

    def runs_inline(self) -> bool:
        # statvfs() on a dead network mount blocks: inline only while every mounted filesystem is local.
        return local_mounts.all_local()

    def run(self) -> CheckOutcome:
        warning, critical = settings.MONITOR_DISK_WARNING, settings.MONITOR_DISK_CRITICAL
        values: dict = {}
        samples: list[MetricValue] = []
        statuses = []
        notes = []
        for raw in settings.MONITOR_DISK_PATHS:
            path = str(raw)
            usage = psutil.disk_usage(str(existing_ancestor(Path(os.path.abspath(path)))))
            status = threshold_status(usage.percent, warning=warning, critical=critical)
            statuses.append(status)
            values[path] = {"used_percent": usage.percent, "free_bytes": usage.free, "total_bytes": usage.total}
            samples += [
                MetricValue("disk_used_percent", usage.percent, {"path": path}, "Used space of the filesystem."),
                MetricValue("disk_free_bytes", usage.free, {"path": path}, "Free space of the filesystem."),
            ]
            notes.append(Message(_("%(path)s %(percent).0f%% used"), {"path": path, "percent": usage.percent}))
        return self.result(worst(statuses), Message.join(notes), values, samples)
