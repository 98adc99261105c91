"""One hop from config to code: each stage's settings object takes its config section whole, and each
default lives in config/schema.yaml (the dataclass defaults must agree with it)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from snakemake.exceptions import WildcardError
from snakemake.io import apply_wildcards

from mrczflow.gain.settings import GainSettings, GammaSettings
from mrczflow.koma.settings import KomaSettings
from mrczflow.outliers.settings import OutlierSettings
from mrczflow.settings import Settings, SettingsError, params_value
from mrczflow.storage.settings import CompressSettings, IngestSettings

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
CONFIG = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
STAGES = {
    "gain": GainSettings,
    "ingest": IngestSettings,
    "compress": CompressSettings,
    "outliers": OutlierSettings,
    "gamma": GammaSettings,
    "koma": KomaSettings,
}


def schema_defaults(schema: dict) -> dict:
    """The defaults the schema gives every key of an object section (recursively)."""
    defaults = {}
    for key, sub in schema["properties"].items():
        if sub.get("type") == "object":
            defaults[key] = schema_defaults(sub)
        else:
            assert "default" in sub, f"schema key {key!r} has no default"
            defaults[key] = sub["default"]
    return defaults


def code_defaults(settings: Settings) -> dict:
    return json.loads(json.dumps(dataclasses.asdict(settings)))


@pytest.mark.parametrize("section", sorted(STAGES))
def test_code_defaults_are_the_schema_defaults(section):
    assert code_defaults(STAGES[section]()) == schema_defaults(SCHEMA["properties"][section])


@pytest.mark.parametrize("section", sorted(STAGES))
def test_every_key_of_a_section_has_a_field_and_the_shipped_config_builds(section):
    assert set(SCHEMA["properties"][section]["properties"]) == {
        field.name for field in dataclasses.fields(STAGES[section])
    }
    built = STAGES[section].from_json(json.dumps(CONFIG[section]))
    assert code_defaults(built) == {**schema_defaults(SCHEMA["properties"][section]), **CONFIG[section]}


def test_a_section_round_trips_through_json_and_nested_sections_are_objects():
    ingest = IngestSettings.from_json(
        json.dumps({"eer_group": 4, "dose": {"source": "config", "dose_rate": 2}})
    )
    assert ingest.eer_group == 4 and ingest.dose.source == "config" and ingest.dose.dose_rate == 2
    assert ingest.dose.frame_time is None and ingest.format == "auto"
    koma = KomaSettings.from_json(json.dumps({"exclude": ["a b"], "include": ["c"]}))
    assert (
        koma.decision("a b") == "exclude" and koma.decision("c") == "include" and koma.decision("d") == "auto"
    )
    assert IngestSettings.from_json(json.dumps(ingest.as_dict())) == ingest
    assert OutlierSettings.from_json(None) == OutlierSettings()


def test_unknown_keys_and_bad_json_are_refused_naming_the_section():
    with pytest.raises(SettingsError, match="config outliers: unknown key.*ordr"):
        OutlierSettings.from_json(json.dumps({"ordr": 5}))
    with pytest.raises(SettingsError, match="config ingest.dose: unknown key.*rate"):
        IngestSettings.from_config({"dose": {"rate": 1}})
    with pytest.raises(SettingsError, match="config koma: not JSON"):
        KomaSettings.from_json("{radius: 3")


def test_a_step_gets_only_the_keys_it_declares_and_cannot_read_others():
    for cls in STAGES.values():
        for step, keys in cls.steps.items():
            assert set(keys) <= {field.name for field in dataclasses.fields(cls)}, (cls, step)
    assert KomaSettings.keys_for("koma_sum") == ("high_contrast",)
    koma = KomaSettings.for_step("koma_sum", json.dumps({"high_contrast": 0.1}))
    assert koma.high_contrast == 0.1 and koma.as_dict() == {"high_contrast": 0.1}
    with pytest.raises(SettingsError, match="step koma_sum reads config koma.radius"):
        _ = koma.radius
    with pytest.raises(SettingsError, match="step 'normalise' reads no keys"):
        GammaSettings.for_step("normalise", "{}")
    assert "KomaSettings" in repr(koma)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(alphabet='{}ab_ ,0"\\'),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(alphabet="{}ab_"), children, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(alphabet="{}ab_ "), JSON_VALUES, max_size=4))
def test_settings_reach_the_step_as_written(section):
    """A rule's settings JSON, braces and all, reaches its step unchanged through Snakemake's params:
    a plain string only where Snakemake's own wildcard filling leaves it alone, else a function."""
    text = json.dumps(section, sort_keys=True)
    value = params_value(text)
    if callable(value):
        assert value({}) == text
    else:
        assert apply_wildcards(value, {}) == text


def test_a_brace_that_reads_as_a_wildcard_goes_as_a_function():
    assert callable(params_value(json.dumps({"optics_group": "grid{group}"})))
    with pytest.raises(WildcardError):  # what a plain string would have met
        apply_wildcards(json.dumps({"optics_group": "grid{group}"}), {})
    for section in CONFIG.values():  # the shipped settings: plain strings, cheap to plan
        if isinstance(section, dict):
            assert isinstance(params_value(json.dumps(section, sort_keys=True)), str)
