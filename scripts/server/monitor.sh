#!/usr/bin/env bash
# Nagios/Icinga/cron wrapper: run every health check once; exit 0 ok, 1 warning, 2 critical (3 if it cannot run).
# Usage: scripts/server/monitor.sh [--json] [--check NAME ...] [--local]
set -uo pipefail
cd "$(dirname "$0")/../.."
python="${OPSPORTAL_PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
"$python" manage.py monitor "$@"
status=$?
# The command itself answers 3 (UNKNOWN) when the checks cannot run; anything else unexpected is UNKNOWN too.
case "$status" in 0|1|2) exit "$status" ;; *) exit 3 ;; esac
