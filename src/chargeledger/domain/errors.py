"""Domain refusals. Each carries a stable code that the API returns as ``error``."""

from __future__ import annotations


class DomainError(Exception):
    """A command the domain refuses; it decides no events."""

    def __init__(self, detail: str = "", code: str | None = None) -> None:
        super().__init__(detail)
        self._code = code

    @property
    def code(self) -> str:
        return self._code or type(self).__name__.removesuffix("Error")

    @property
    def detail(self) -> str:
        return str(self) or self.code


class ConnectorNotAvailableError(DomainError):
    pass


class StationNotRegisteredError(DomainError):
    pass


class TransactionNotFoundError(DomainError):
    pass


class UnknownConnectorError(DomainError):
    pass


class CommandNotFoundError(DomainError):
    pass
