"""Keep the command-line and reload machinery of two libraries out of service processes (memory).

`import uvicorn` runs uvicorn's package `__init__`, which imports its command line (click), its
reloaders (watchfiles) and multiprocessing, and `import httpx` imports httpx's command line (click again);
a service process uses none of them, yet they cost about 3 MB of every process. Before either package is
imported, `install()` registers uvicorn as a package whose `__init__` is not run (its submodules import as
usual; `uvicorn.Config`, `uvicorn.Server`, `uvicorn.run`, `uvicorn.main` and `uvicorn.__version__` are
resolved on first use) and marks httpx's command line as absent (httpx then defines a `main` that
explains it is missing). Behaviour is otherwise the same.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any


def _uvicorn_getattr(name: str) -> Any:
    if name == "Config":
        from uvicorn.config import Config

        return Config
    if name in {"Server", "main", "run"}:
        import uvicorn.main

        return getattr(uvicorn.main, name)
    if name == "__version__":
        from importlib.metadata import version

        return version("uvicorn")
    raise AttributeError(f"module 'uvicorn' has no attribute {name!r}")


def install() -> None:
    """Register the lean uvicorn package and the absent httpx command line, once, if still possible."""
    if "uvicorn" not in sys.modules:
        spec = importlib.util.find_spec("uvicorn")
        if spec is not None and spec.submodule_search_locations is not None:
            module = importlib.util.module_from_spec(spec)  # the package object, without running __init__
            module.__getattr__ = _uvicorn_getattr  # type: ignore[attr-defined]
            module.__all__ = ["main", "run", "Config", "Server"]  # type: ignore[attr-defined]
            sys.modules["uvicorn"] = module
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
