# The backups and monitoring fixtures (private storage, throwaway PostgreSQL, a portal under gunicorn) serve here too;
# checks_close_their_connections is autouse: health-check threads must not keep the test database open.
from tests.backups.conftest import (  # noqa: F401
    age_key,
    backup_dir,
    encrypted,
    new_database_url,
    run_backup,
    s3_endpoint,
)
from tests.backups.physical.conftest import archiving_cluster, physical  # noqa: E402, F401
from tests.monitoring.conftest import checks_close_their_connections, portal_server  # noqa: F401
