"""What monitoring tells the other apps; it imports none of them (alerting connects in its AppConfig.ready)."""

from django.dispatch import Signal

# Sent once a scheduled health snapshot is committed; kwargs: snapshot_id. Alerting evaluates its rules on it.
snapshot_taken = Signal()
