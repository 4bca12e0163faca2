"""Physical backups and point-in-time recovery, orchestrated through pgBackRest (it is the engine; we are not).

pgBackRest owns the repository and its catalog (`pgbackrest info --output=json`); the portal's BackupRun records of
kind "physical" mirror it (catalog.py rebuilds them from there), each run annotated in pgBackRest with the portal's
run UUID so the mirror can be rebuilt on a new machine.
"""

KIND = "physical"
ARTIFACT_KIND = "pgbackrest"
BACKUP_TYPES = ("full", "diff", "incr")
