"""Dashboards: the operations overview on the admin index and the historical health page (reads only)."""
