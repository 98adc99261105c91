"""Settings objects: a stage's config section, whole, as one typed object.

Each stage has one frozen dataclass (``mrczflow.<stage>.settings``) whose
fields are the keys of its section of ``config/config.yaml``. The defaults
live in ``config/schema.yaml``; the dataclass defaults repeat them so the
library can be called without a config, and a test checks that the two agree.

A rule hands its script the keys of the section that its step reads
(``steps`` on each class, :meth:`Settings.keys_for`), as JSON; the
script builds the object with :meth:`Settings.for_step`, which refuses to
hand the step any other key. So a changed setting reruns exactly the rules
that read it (Snakemake reruns a job whose params changed), and a step that
starts reading a key it did not declare fails at once instead of silently
taking the default.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

T = TypeVar("T", bound="Settings")


class SettingsError(ValueError):
    """A config section that does not fit its stage's settings."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Base of every stage's settings; ``nested`` maps a field name to the settings class of its subsection."""

    nested: ClassVar[Mapping[str, type[Settings]]] = {}
    section: ClassVar[str] = ""
    steps: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    @classmethod
    def from_config(cls: type[T], section: Mapping[str, Any] | None) -> T:
        """Build from a config section (a mapping); unknown keys are refused, missing keys take defaults."""
        section = dict(section or {})
        names = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(section) - names)
        if unknown:
            raise SettingsError(
                f"config {cls.section or cls.__name__}: unknown key(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(names))}"
            )
        for key, kind in cls.nested.items():
            if key in section and not isinstance(section[key], Settings):
                section[key] = kind.from_config(section[key])
        for key in names & set(section):
            if isinstance(section[key], list):  # JSON has no tuples; keep the object hashable
                section[key] = tuple(section[key])
        return cls(**section)

    @classmethod
    def from_json(cls: type[T], text: str | None) -> T:
        """Build from the JSON a rule passes (``--settings``); none or empty gives the defaults."""
        if not text:
            return cls()
        try:
            section = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"config {cls.section or cls.__name__}: not JSON ({exc})") from None
        return cls.from_config(section)

    @classmethod
    def for_step(cls: type[T], step: str, text: str | None) -> T:
        """Build from the JSON the rule of ``step`` passes; the step may read only its declared keys."""
        keys = cls.keys_for(step)
        settings = cls.from_json(text)
        object.__setattr__(settings, "_readable", (step, frozenset(keys)))
        return settings

    @classmethod
    def keys_for(cls, step: str) -> tuple[str, ...]:
        if step not in cls.steps:
            raise SettingsError(f"config {cls.section}: step {step!r} reads no keys of it")
        return cls.steps[step]

    def __getattribute__(self, name: str) -> Any:
        readable = object.__getattribute__(self, "__dict__").get("_readable")
        if readable is not None and name in type(self).__dataclass_fields__ and name not in readable[1]:
            raise SettingsError(
                f"step {readable[0]} reads config {type(self).section}.{name}, which its rule does not pass; "
                f"add it to {type(self).__name__}.steps"
            )
        return object.__getattribute__(self, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()})"

    def as_dict(self) -> dict[str, Any]:
        """Every key, or only the readable ones of an object built :meth:`for_step`."""
        readable = object.__getattribute__(self, "__dict__").get("_readable")
        return {
            field.name: getattr(self, field.name)
            if not isinstance(getattr(self, field.name), Settings)
            else getattr(self, field.name).as_dict()
            for field in dataclasses.fields(self)
            if readable is None or field.name in readable[1]
        }


# A brace that opens no JSON object ("{" then neither a quote nor "}"): Snakemake could take it, with
# what follows, for a wildcard.
_WILDCARD_LIKE = re.compile(r'\{(?!["}])')


def params_value(text: str) -> str | Callable[..., str]:
    """``text`` (a rule's settings JSON) as a Snakemake params value that reaches the step unchanged.

    Snakemake fills ``{name}`` in a params string with a wildcard, so a text holding such a brace
    goes as a function, whose value Snakemake passes as it is. Any other text goes as the string
    itself, which is cheaper to plan: Snakemake inspects a function's signature for every job.
    """
    if _WILDCARD_LIKE.search(text):
        return lambda wildcards: text
    return text
