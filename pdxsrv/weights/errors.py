"""The errors of the weights library: one base, each message saying what was wrong, with which value, what to do."""

from __future__ import annotations


class WeightsError(Exception):
    """Base of every weights error."""


class NoWeights(WeightsError):
    """The table has no weights for this model, backbone and keyword (the message lists what it has)."""


class WeightsUnavailable(WeightsError):
    """Weights the table knows cannot be had: offline, unreachable, refused, or the transfer broke."""

    def __init__(self, message: str, *, path: str = "", mirror_name: str = "", url: str = "") -> None:
        super().__init__(message)
        self.path, self.mirror_name, self.url = path, mirror_name, url


class ChecksumMismatch(WeightsUnavailable):
    """The file's digest differs from the published one; nothing was placed (`expected`, `got`: hex digests)."""

    def __init__(self, message: str, *, expected: str, got: str, path: str = "", mirror_name: str = "",
                 url: str = "") -> None:
        super().__init__(message, path=path, mirror_name=mirror_name, url=url)
        self.expected, self.got = expected, got
