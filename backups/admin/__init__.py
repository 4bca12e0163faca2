"""The backups admin: runs (with their buttons and pages) and restores (read-only)."""

from backups.admin.restores import RestoreRunAdmin
from backups.admin.runs import BackupRunAdmin

__all__ = ["BackupRunAdmin", "RestoreRunAdmin"]
