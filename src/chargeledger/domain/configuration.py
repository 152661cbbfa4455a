"""What the station reported of its configuration keys, as a ChangeConfiguration
decision consults it: a snapshot taken by the application before deciding, so the
decision stays pure (like the twin's snapshot for a remote start).

A key the station said it does not support (``unknownKey`` in a GetConfiguration
answer, or ``NotSupported`` to a ChangeConfiguration) is refused before it is sent
again; so is a key the station reported read-only. A key the station never
mentioned goes: only the station can say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chargeledger.domain.errors import ReadonlyConfigurationKeyError, UnknownConfigurationKeyError

MAX_KEY_LENGTH = 50
MAX_VALUE_LENGTH = 500
"""OCPP 1.6 ``CiString50Type`` and ``CiString500Type``."""


@dataclass(frozen=True)
class ConfigurationSnapshot:
    """Keys case-folded: OCPP compares them case-insensitively (``CiString``)."""

    unsupported_keys: frozenset[str] = frozenset()
    readonly_keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, unsupported: Iterable[str], readonly: Iterable[str]) -> ConfigurationSnapshot:
        return cls(
            frozenset(k.casefold() for k in unsupported), frozenset(k.casefold() for k in readonly)
        )


NO_CONFIGURATION = ConfigurationSnapshot()


def check_change(snapshot: ConfigurationSnapshot, key: str) -> None:
    """Refuse a change the station already said it will not take."""
    if key.casefold() in snapshot.unsupported_keys:
        raise UnknownConfigurationKeyError(
            f"the station said it does not support configuration key {key!r}; "
            "check the key's spelling with get-configuration"
        )
    if key.casefold() in snapshot.readonly_keys:
        raise ReadonlyConfigurationKeyError(
            f"the station reported configuration key {key!r} as read-only; it cannot be changed"
        )
