"""What pgBackRest knows: `pgbackrest info --output=json`, read into small typed records."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils.translation import gettext as _

from backups.physical.command import PgBackRestError, pgbackrest_run

RUN_ANNOTATION = "opsportal-run"
TRIGGER_ANNOTATION = "opsportal-trigger"
BY_ANNOTATION = "opsportal-by"
PINNED_ANNOTATION = "opsportal-pinned"
DRILL_ANNOTATION = "opsportal-drill"


@dataclass(frozen=True)
class BackupSet:
    label: str
    type: str
    started_at: datetime
    stopped_at: datetime
    size: int
    repo_size: int
    repo_delta: int
    prior: str | None
    references: list[str]
    annotations: dict[str, str]
    wal_start: str
    wal_stop: str
    lsn_start: str
    lsn_stop: str
    error: bool
    raw: dict = field(repr=False, default_factory=dict)

    @property
    def pinned(self) -> bool:
        return self.annotations.get(PINNED_ANNOTATION) == "1"

    @classmethod
    def from_json(cls, data: dict) -> BackupSet:
        info = data.get("info") or {}
        repository = info.get("repository") or {}
        archive = data.get("archive") or {}
        lsn = data.get("lsn") or {}
        stamps = data.get("timestamp") or {}
        return cls(
            label=data["label"],
            type=data.get("type", ""),
            started_at=datetime.fromtimestamp(stamps.get("start", 0), tz=UTC),
            stopped_at=datetime.fromtimestamp(stamps.get("stop", 0), tz=UTC),
            size=int(info.get("size") or 0),
            repo_size=int(repository.get("size") or 0),
            repo_delta=int(repository.get("delta") or 0),
            prior=data.get("prior"),
            references=list(data.get("reference") or []),
            annotations={str(k): str(v) for k, v in (data.get("annotation") or {}).items()},
            wal_start=archive.get("start") or "",
            wal_stop=archive.get("stop") or "",
            lsn_start=lsn.get("start") or "",
            lsn_stop=lsn.get("stop") or "",
            error=bool(data.get("error")),
            raw=data,
        )


@dataclass(frozen=True)
class StanzaInfo:
    name: str
    status_code: int
    status_message: str
    cipher: str
    backups: list[BackupSet]
    wal_min: str
    wal_max: str
    backup_running: bool
    percent_done: float | None

    def find(self, label: str) -> BackupSet | None:
        return next((b for b in self.backups if b.label == label), None)

    def by_run_uuid(self, run_uuid: str) -> BackupSet | None:
        return next((b for b in self.backups if b.annotations.get(RUN_ANNOTATION) == run_uuid), None)

    @property
    def earliest_recoverable(self) -> datetime | None:
        """The first moment a restore can reach: the end of the oldest backup (it is consistent from there)."""
        return min((b.stopped_at for b in self.backups), default=None)

    def dependents_of(self, label: str) -> list[str]:
        """Labels of the backups that need `label` (diffs and incrs built on it), itself included."""
        needed = {label}
        changed = True
        while changed:
            changed = False
            for backup in self.backups:
                if backup.label not in needed and backup.prior in needed:
                    needed.add(backup.label)
                    changed = True
        return sorted(needed)


_UNPRINTABLE = re.compile(r"[^\t\n\x20-\x7e\u00a0-\uffff]|\ufffd")
_UNREADABLE_REPO = re.compile(r'"status":\{"code":(4|99),"message":"(\[\w+\][^"\\]{0,200})')


def _printable(text: str) -> str:
    """pgBackRest quotes what it failed to decrypt (with a wrong passphrase): keep such bytes out of our messages."""
    return _UNPRINTABLE.sub("", text)


def parse_info(text: str, stanza_name: str, stderr: str = "") -> StanzaInfo:
    try:
        # strict=False: control characters inside strings (the garbage a wrong passphrase decrypts) are accepted.
        data = json.loads(text, strict=False)
    except json.JSONDecodeError:
        unreadable = _UNREADABLE_REPO.search(text)
        if unreadable:  # the garbage broke the JSON itself; the repository status before it is still plain
            data = [{"name": stanza_name, "status": {"code": int(unreadable[1]), "message": unreadable[2]}}]
        else:
            raise PgBackRestError(_("pgbackrest info did not print JSON: %(start)s %(stderr)s")
                                  % {"start": _printable(text[:200]), "stderr": _printable(stderr.strip()[-300:])}
                                  ) from None
    stanza = next((item for item in data if item.get("name") == stanza_name), None)
    if stanza is None:
        raise PgBackRestError(_("pgbackrest info does not know the stanza %(stanza)s.") % {"stanza": stanza_name})
    status = stanza.get("status") or {}
    lock = (status.get("lock") or {}).get("backup") or {}
    archives = stanza.get("archive") or []
    return StanzaInfo(
        name=stanza_name,
        status_code=int(status.get("code", 0)),
        status_message=_printable(status.get("message", "")),
        cipher=stanza.get("cipher", "none"),
        backups=[BackupSet.from_json(item) for item in stanza.get("backup") or []],
        wal_min=min((a.get("min") or "" for a in archives), default=""),
        wal_max=max((a.get("max") or "" for a in archives), default=""),
        backup_running=bool(lock.get("held")),
        # pgBackRest 2.45 reports a running backup's progress as pct-cplt, in hundredths of a percent.
        percent_done=lock["pct-cplt"] / 100 if isinstance(lock.get("pct-cplt"), int | float) else None,
    )


def stanza_info(*, require_stanza: bool = True) -> StanzaInfo:
    """The stanza's info; PgBackRestError with a clear message if it is missing or unreadable (require_stanza)."""
    from backups.physical.config import stanza

    name = stanza()
    stderr: list[str] = []
    info = parse_info(pgbackrest_run(["info", "--output=json"], timeout=120, stderr_into=stderr), name, *stderr)
    # pgBackRest codes: 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing stanza data, 4 different cipher,
    # 5 database mismatch, 6 backup/expire running, 99 other.
    if require_stanza and info.status_code in (1, 3):
        raise PgBackRestError(
            _("The stanza %(stanza)s does not exist in the repository yet: run `manage.py physicalbackup --setup` "
              "(pgbackrest stanza-create). pgBackRest says: %(message)s")
            % {"stanza": name, "message": info.status_message}
        )
    if require_stanza and info.status_code in (4, 99):
        raise PgBackRestError(
            _("The repository of stanza %(stanza)s cannot be read: %(message)s. If it is encrypted, check that "
              "BACKUP_PGBACKREST_CIPHER_PASS_FILE holds its passphrase.") % {"stanza": name,
                                                                              "message": info.status_message}
        )
    return info
