"""Every error chargeledger raises on purpose derives from one root (``errors.py``),
so a caller can tell our refusals and failures from bugs."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import chargeledger
from chargeledger.errors import ChargeledgerError


def _public_exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for module_info in pkgutil.walk_packages(chargeledger.__path__, "chargeledger."):
        if module_info.name.endswith("__main__"):
            continue
        module = importlib.import_module(module_info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found[f"{value.__module__}.{name}"] = value
    return list(found.values())


def test_every_public_error_of_the_package_derives_from_the_root() -> None:
    classes = _public_exception_classes()
    assert len(classes) > 30  # the walk found the package's errors, not nothing
    strays = [c.__qualname__ for c in classes if not issubclass(c, ChargeledgerError)]
    assert strays == []


def test_the_root_s_docstring_names_every_branch_it_draws() -> None:
    doc = chargeledger.errors.__doc__ or ""
    for cls in _public_exception_classes():
        if cls.__module__ == "chargeledger.domain.errors" and cls.__name__ != "DomainError":
            continue  # drawn as "…" under DomainError
        if cls.__module__ == "chargeledger.application.registry" and cls.__name__ != (
            "RegistryError"
        ):
            continue
        assert cls.__name__ in doc, f"{cls.__name__} is missing from the hierarchy in errors.py"
