# The backups fixtures (private storage, keys, users of the permission matrix) serve these suites too.
from tests.backups.conftest import age_key, backup_dir, encrypted, new_database_url, run_backup  # noqa: F401
