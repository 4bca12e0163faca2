"""A signals module whose own import is broken: alerting must not mistake it for an absent module."""

import no_such_dependency_of_signals  # noqa: F401
