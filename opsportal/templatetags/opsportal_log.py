"""`{{ entry|change_message }}`: what an admin log entry says happened, in the reader's language (see
backups/admin/log_repr.py)."""

from __future__ import annotations

from django import template

from backups.admin.log_repr import change_message

register = template.Library()
register.filter("change_message", change_message)
