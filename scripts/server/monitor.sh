#!/usr/bin/env bash
# Nagios/Icinga/cron wrapper: run every health check once; exit 0 ok, 1 warning, 2 critical, 3 unknown.
# Usage: scripts/server/monitor.sh [--json] [--check NAME ...] [--local]
#
# The first line of the output is the Nagios summary (`OK - 9 checks ok | perfdata`). Whatever else happens (Django
# cannot start: bad settings, an import error; no Python; a crash) this prints exactly one line `UNKNOWN - reason`
# and exits 3: never a traceback, never an exit status Nagios would read as WARNING or CRITICAL.
set -uo pipefail
cd "$(dirname "$0")/../.." || { echo "UNKNOWN - cannot enter the portal's folder"; exit 3; }
python="${OPSPORTAL_PYTHON:-.venv/bin/python}"
[ -x "$python" ] || python=python3
for arg in "$@"; do
    case "$arg" in -h|--help) exec "$python" manage.py monitor "$@" ;; esac
done

out=$(mktemp) && err=$(mktemp) || { echo "UNKNOWN - cannot create a temporary file"; exit 3; }
trap 'rm -f "$out" "$err"' EXIT
"$python" manage.py monitor "$@" >"$out" 2>"$err"
status=$?

first=$(head -n 1 "$out")
json=0
for arg in "$@"; do [ "$arg" = "--json" ] && json=1; done
expected=("OK - " "WARNING - " "CRITICAL - " "UNKNOWN - ")
if [ "$status" -le 3 ] 2>/dev/null && [ "$status" -ge 0 ]; then
    prefix=${expected[$status]}
    # Only output the command wrote itself counts: its summary line, or its JSON for 0..2.
    if [ "${first:0:${#prefix}}" = "$prefix" ] || { [ "$json" = 1 ] && [ "$status" -le 2 ] && [ "${first:0:1}" = "{" ]; }; then
        if [ "$status" -eq 3 ]; then
            echo "$first"
        else
            cat "$out"
            cat "$err" >&2
        fi
        exit "$status"
    fi
fi

# Django could not start or the command crashed: the last line of a traceback is the exception and its message.
reason=$(grep -v '^[[:space:]]*$' "$err" | tail -n 1)
[ -n "$reason" ] || reason=$(grep -v '^[[:space:]]*$' "$out" | tail -n 1)
[ -n "$reason" ] || reason="manage.py monitor exited with status $status"
reason=$(printf '%s' "$reason" | tr -d '\r' | tr '|' '/' | cut -c 1-400)
echo "UNKNOWN - $reason"
exit 3
