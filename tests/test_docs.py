"""The documentation tells the truth: the configuration reference is what the settings
classes generate, and the README's examples run."""

from __future__ import annotations

from tools.settings_doc import DOC_PATH, render


def test_the_configuration_reference_is_generated_from_the_settings() -> None:
    assert DOC_PATH.read_text() == render(), "run `python -m tools.settings_doc` (make docs)"
