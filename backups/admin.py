"""Read-only history of backups and restores (the full admin experience comes with issue 4)."""

from django.contrib import admin

from backups.models import BackupArtifact, BackupRun, RestoreRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BackupArtifactInline(admin.TabularInline):
    model = BackupArtifact
    extra = 0
    fields = ["kind", "name", "path", "stored_bytes", "raw_bytes", "sha256", "encrypted", "format"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(BackupRun)
class BackupRunAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "status",
        "trigger",
        "triggered_by_name",
        "created_at",
        "finished_at",
        "total_bytes",
        "verification",
        "current_artifact",
        "bytes_done",
    ]
    list_filter = ["status", "trigger", "verification"]
    inlines = [BackupArtifactInline]


@admin.register(RestoreRun)
class RestoreRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "source_run", "target", "status", "triggered_by_name", "created_at", "finished_at"]
    list_filter = ["status"]
