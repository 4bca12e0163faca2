"""Signals other apps (notifications, issue 4) listen to. Sent after the outcome is saved on the record."""

from django.dispatch import Signal

# sender=BackupRun, run=<BackupRun>
backup_succeeded = Signal()
# sender=BackupRun, run=<BackupRun>
backup_failed = Signal()
# sender=RestoreRun, restore=<RestoreRun>
restore_finished = Signal()
