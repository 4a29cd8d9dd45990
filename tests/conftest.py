"""Shared fixtures: the live Octave session and the report header."""

from __future__ import annotations

import os

import numpy as np
import pytest
import scipy

from tests.octave import OctaveSession, octave_cli, octave_required


def pytest_report_header(config):
    import shutil

    versions = f"numpy {np.__version__}, scipy {scipy.__version__}"
    octave = shutil.which("octave-cli") or "not found"
    required = "required" if octave_required() else "optional"
    return [f"bridge test deps: {versions}", f"octave-cli: {octave} ({required})"]


@pytest.fixture(scope="session")
def octave():
    """One octave-cli process shared by the whole session (skips, or fails in CI, without it)."""
    session = OctaveSession(octave_cli())
    yield session
    session.close()


@pytest.fixture
def no_octave_env(monkeypatch):
    """An environment without BRIDGE_REQUIRE_OCTAVE, for tests of the skip logic itself."""
    monkeypatch.delenv("BRIDGE_REQUIRE_OCTAVE", raising=False)
    return os.environ
