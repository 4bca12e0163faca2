"""Dashboards: the operations overview on the admin index and the historical health page (reads only).

An app of its own that composes the other apps' public selectors: it imports no model and no private name of
monitoring, performance, alerting or backups (tests/opsportal/test_app_seams.py holds it to that).
"""
