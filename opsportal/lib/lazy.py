"""Modules imported on first use, so start-up (every management command, every web worker) does not pay for them.

`docker = lazy_module("docker")` at the top of a module reads like `import docker` and behaves the same once an
attribute is used (`docker.DockerClient`, `docker.errors.NotFound`), but docker and requests (≈170 ms here) are
only imported then. Annotations stay strings (`from __future__ import annotations`). The import itself goes through
importlib, whose import lock makes first use from several threads safe.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule(ModuleType):
    def __init__(self, name: str) -> None:
        super().__init__(name)

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__name__), attr)


def lazy_module(name: str) -> ModuleType:
    return LazyModule(name)
