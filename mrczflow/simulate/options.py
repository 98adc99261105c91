"""Command-line options for every simulator knob, generated from the config dataclasses.

Generating them keeps ``simulate.py --help`` complete: a knob added to
:class:`SessionConfig` or :class:`DetectorConfig` appears with its help text.
Tuples are given comma-separated (``--shape 3838,3710``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import click

from ..gain.law import GammaLaw
from .detector import DetectorConfig
from .session import SessionConfig

GAMMA_HELP = {
    "a1": "gamma law a1 in a1*rate**b1 + a2*rate + a3 (paper: 0.12)",
    "a2": "gamma law a2 (paper: -0.0336)",
    "a3": "gamma law a3 (paper: 1.04)",
    "b1": "gamma law exponent b1 (paper: -1.04)",
}


def _parse_tuple(kind: type) -> Callable:
    def parse(ctx, param, value):
        if isinstance(value, tuple) or value is None:
            return value
        text = str(value).strip()
        try:
            return tuple(kind(v) for v in text.split(",") if v.strip()) if text else ()
        except ValueError:
            raise click.BadParameter(
                f"expected comma-separated {kind.__name__} values, got {value!r}"
            ) from None

    return parse


def _option(prefix: str, field: dataclasses.Field) -> Callable:
    name = f"--{prefix}{field.name.replace('_', '-')}"
    default = field.default
    help_text = field.metadata.get("help", "")
    if isinstance(default, tuple):
        kind = int if field.name.endswith("stacks") else type(default[0]) if default else str
        shown = ",".join(str(v) for v in default)
        return click.option(
            name,
            f"{prefix}{field.name}",
            default=shown,
            show_default=True,
            help=help_text,
            callback=_parse_tuple(kind),
        )
    return click.option(
        name, f"{prefix}{field.name}", type=type(default), default=default, show_default=True, help=help_text
    )


def knob_options(function: Callable) -> Callable:
    """Decorate a click command with one option per session, detector and gamma knob."""
    for field in reversed(dataclasses.fields(SessionConfig)):
        function = _option("", field)(function)
    for field in reversed(dataclasses.fields(DetectorConfig)):
        if field.name != "gamma":
            function = _option("", field)(function)
    for name in reversed(list(GAMMA_HELP)):
        function = click.option(
            f"--gamma-{name}",
            f"gamma_{name}",
            type=float,
            default=getattr(GammaLaw(), name),
            show_default=True,
            help=GAMMA_HELP[name],
        )(function)
    return function


def configs_from_options(options: dict) -> tuple[SessionConfig, DetectorConfig]:
    """Build the two configs from the parsed options of :func:`knob_options`."""
    session = SessionConfig(**{f.name: options[f.name] for f in dataclasses.fields(SessionConfig)})
    gamma = GammaLaw(**{name: options[f"gamma_{name}"] for name in GAMMA_HELP})
    detector_fields = {
        f.name: options[f.name] for f in dataclasses.fields(DetectorConfig) if f.name != "gamma"
    }
    return session, DetectorConfig(**detector_fields, gamma=gamma)
