"""Backup services: backup.py (create, run), reaper.py, catalog.py (re-index), verify.py, restore.py."""
