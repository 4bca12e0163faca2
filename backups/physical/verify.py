"""Verify and Drill on a physical run: `pgbackrest verify` (checksums of the repository), or a PITR drill."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from backups.models import BackupRun
from backups.physical.command import pgbackrest_run, scrub


def physical_verify(*, run: BackupRun, drill: bool, result):
    if drill:
        from backups.physical.drill import physical_drill

        outcome = physical_drill(actor="verify")
        result.ok = outcome.ok
        result.drill_seconds = outcome.rto_seconds
        (result.checked if outcome.ok else result.problems).append(outcome.detail)
        result.run = outcome.run or run
        return result
    try:
        report = pgbackrest_run(["verify", "--output=text", "--verbose"], timeout=3600)
        if "status: error" in report:  # pgBackRest 2.45 reports what is invalid and still exits 0
            raise RuntimeError(_("pgbackrest verify found invalid files: %(report)s")
                               % {"report": " ".join(report.split())[:1500]})
        result.checked.append(_("pgbackrest verify: every backup and WAL file in the repository matches its checksum"))
    except Exception as exc:
        result.problems.append(scrub(str(exc)))
    result.ok = not result.problems
    BackupRun.objects.filter(pk=run.pk).update(
        verification=BackupRun.Verification.VERIFIED if result.ok else BackupRun.Verification.FAILED,
        verified_at=timezone.now(), verification_detail="\n".join(result.problems or result.checked))
    run.refresh_from_db()
    result.run = run
    return result
