"""The backups app's health checks (discovered by monitoring.registry): WAL archiving of physical backups."""

from backups.physical.health import WalArchiveCheck  # noqa: F401 (registers the check)
