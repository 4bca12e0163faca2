# The backups fixtures (private storage, keys) serve these suites too; checks_close_their_connections is autouse:
# health-check threads (the fuzzed health endpoint) must not keep the test database open.
from tests.backups.conftest import age_key, backup_dir, encrypted, new_database_url, run_backup  # noqa: F401
from tests.monitoring.conftest import checks_close_their_connections  # noqa: F401
