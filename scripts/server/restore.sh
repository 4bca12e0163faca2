#!/usr/bin/env bash
# Restore a backup run: scripts/server/restore.sh RUN_ID [--into DATABASE_URL] [--only KIND[:NAME]] [--yes]
# Without --yes it asks for the database name to be typed. A safety backup of the target is taken first.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 1 ] || { echo "usage: $0 RUN_ID [--into DATABASE_URL] [--only KIND[:NAME]] [--yes]" >&2; exit 2; }
exec "${PYTHON:-.venv/bin/python}" manage.py restore "$@"
