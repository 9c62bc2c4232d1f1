"""pdxsrv: a workstation daemon serving the PaddleX RESTful API."""

import importlib.metadata


def version() -> str:
    """pdxsrv's version, from the installed package's metadata."""
    try:
        return importlib.metadata.version("pdxsrv")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"
