"""A password that cannot leak by accident (Principle 6).

``Secret`` has no ``__str__``/``__repr__``/``__format__``/JSON form other than ``***``; the only
way to the clear text is ``reveal()``, called in exactly one place: where the probe client
builds the ``X-NITRO-PASS`` header of a request to the credential's own host. Tracebacks,
f-strings, logging, ``json.dumps(default=str)``, dataclass reprs and pickles therefore never
carry the password. ``scrub(text)`` removes it from text that came back from elsewhere (an
exception message that might quote a header, say) before that text goes anywhere.
"""

from __future__ import annotations

from typing import Any, NoReturn

MASK = "***"


class Secret:
    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str):
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        return self._value

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError("Secret is immutable")

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> NoReturn:
        # A pickled result (multiprocessing, a cache) must not carry the password.
        raise TypeError("a Secret cannot be pickled")

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced by ``***``."""
        v = self._value
        if not v or not text:
            return text
        return text.replace(v, MASK)
