"""Built-in health checks, one module each. Importing a module registers its checks (see monitoring.registry)."""
