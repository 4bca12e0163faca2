"""Thin tasks: take an id, call one service. Routed to the `backups` queue by their `backups.` name prefix."""

from __future__ import annotations

from celery import shared_task

from backups.physical import tasks as physical_tasks  # noqa: F401 (registers the physical tasks)
from backups.physical.cluster import scratch_clusters_reap
from backups.physical.container import restored_containers_reap
from backups.services.backup import backup_run_execute, backup_run_scheduled
from backups.services.catalog_pending import catalog_reindex_if_owed
from backups.services.journal import journal_replay
from backups.services.reaper import backup_runs_reap_dead_workers, backup_runs_reap_stale, restore_runs_reap_stale
from backups.services.restore import restore_run_execute
from backups.services.retention import backup_runs_prune
from backups.services.scratch import scratch_databases_reap
from backups.services.swap import restore_databases_reap, temp_files_reap
from backups.services.verify import backup_run_drill_latest, backup_run_verify
from backups.sources.docker_holds import docker_holds_repair_here


@shared_task(name="backups.tasks.run_backup")
def run_backup(run_id: int) -> None:
    # The service claims the run queued → running, so a redelivered message finds it claimed and does nothing.
    backup_run_execute(run_id=run_id)


@shared_task(name="backups.tasks.run_scheduled_backup")
def run_scheduled_backup() -> int | None:
    run = backup_run_scheduled()
    return run.pk if run is not None else None


@shared_task(name="backups.tasks.reap_stale_runs")
def reap_stale_runs() -> int:
    catalog_reindex_if_owed()  # first: a restore of the portal database killed before re-indexing the catalog
    replayed = journal_replay()  # a failure recorded on this host keeps its real cause
    # Restored clusters (PITR restores, drills) whose worker on this host is gone are removed too.
    return (
        len(replayed) + len(backup_runs_reap_dead_workers()) + len(backup_runs_reap_stale())
        + len(restore_runs_reap_stale()) + len(scratch_clusters_reap()) + len(restored_containers_reap())
        + len(scratch_databases_reap())  # drill databases whose drill's worker is gone
        + len(restore_databases_reap())  # `__restoring_` databases of in-place restores whose worker is gone
        + len(temp_files_reap())  # their decoded artifacts
        + len(docker_holds_repair_here())  # containers a lost backup stopped: started again, policy put back
    )


@shared_task(name="backups.tasks.verify_backup")
def verify_backup(run_id: int, drill: bool = False) -> None:
    backup_run_verify(run_id=run_id, drill=drill)


@shared_task(name="backups.tasks.drill_latest_backup")
def drill_latest_backup() -> None:
    backup_run_drill_latest()


@shared_task(name="backups.tasks.prune_backups")
def prune_backups() -> int:
    return len(backup_runs_prune().deleted)


@shared_task(name="backups.tasks.run_restore")
def run_restore(restore_id: int) -> None:
    # The service claims the RestoreRun queued → running, so a redelivered message finds it claimed and does nothing.
    restore_run_execute(restore_id=restore_id)


# The task's registered name until this release: messages already queued under it are still carried out.
# Remove once no worker of the previous release can have left one in the broker.
@shared_task(name="backups.tasks.restore_run_execute")
def run_restore_queued_under_old_name(restore_id: int) -> None:
    restore_run_execute(restore_id=restore_id)
