#!/usr/bin/env bash
# Cron-friendly backup: runs `manage.py backup` from the project folder and exits non-zero on failure.
#   15 2 * * * /srv/opsportal/scripts/server/backup.sh >>/var/log/opsportal-backup.log 2>&1
# Extra arguments are passed on (e.g. --json). Configuration comes from .env / the environment as for the portal.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec "${PYTHON:-.venv/bin/python}" manage.py backup "$@"
