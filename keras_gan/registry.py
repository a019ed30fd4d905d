"""One way to register a plug-in by name (objectives, augmentations): a subclass of the kind's
base class, or a plain function that a wrapper turns into one."""
from __future__ import annotations

import inspect
from typing import Callable, Dict

from keras_gan.errors import KerasGanError


def registrar(kind: str, registry: Dict[str, Callable], base: type,
              wrap: Callable[[str, Callable], object]) -> Callable:
    """A `register(name)` decorator filling `registry`: a `base` subclass is stored (and named
    `name`), a function as `wrap(name, function)` built on use; anything else fails naming
    `kind`."""

    def register(name: str):
        if not name.isidentifier():
            raise KerasGanError(f"{kind} name {name!r}: expected a Python identifier")

        def add(target):
            if inspect.isclass(target):
                if not issubclass(target, base):
                    raise KerasGanError(f"{kind} {name!r}: {target.__name__} is not a subclass "
                                        f"of {base.__module__}.{base.__name__}")
                target.name = name
                registry[name] = target
            elif callable(target):
                registry[name] = lambda *args: wrap(name, target)
            else:
                raise KerasGanError(f"{kind} {name!r}: expected a function or a "
                                    f"{base.__name__} class")
            return target

        return add

    return register
