"""Shared fixtures and rules: the live Octave session, which tests are slow, the report header.

Slow tests (``-m "not slow"`` leaves them out, for a quick loop) are those marked ``slow`` by
hand (a module's ``pytestmark`` or a test's decorator: tests that start a process, a server, a
batch or a cluster, or take more than about a second) and, by the rule below, every test that
needs Octave: marked ``octave`` or using the ``octave`` fixture. A test that starts a process
without being marked ``slow`` is named at the end of the run, so that the quick loop stays quick.
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest
import scipy

from tests.octave import OctaveSession, octave_cli, octave_required

# A suite started in the background by a non-interactive shell (`pytest &`, nohup) inherits
# SIGINT ignored, and every process it starts would too (an ignored signal stays ignored across
# exec; Python and bridge keep it so): the tests that stop a job with SIGINT would see it run on.
# A handler in this process is reset to the default in its children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# The same for SIGHUP under nohup (seen: the SIGHUP tests of a CI run started with nohup waited
# 30 s for jobs that rightly kept ignoring it). The default is kept as the default in children.
if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, signal.SIG_DFL)

# Audit events of a new process (subprocess, multiprocessing's fork, os.system and the like).
PROCESS_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.fork",
        "os.forkpty",
        "os.posix_spawn",
        "os.spawn",
        "os.exec",
        "os.system",
        "pty.spawn",
    }
)
_started = [0]  # processes started in this process so far (the audit hook counts)
_BEFORE = pytest.StashKey[int]()  # _started when the test's setup began


def pytest_report_header(config):
    import shutil

    versions = f"numpy {np.__version__}, scipy {scipy.__version__}"
    octave = shutil.which("octave-cli") or "not found"
    required = "required" if octave_required() else "optional"
    return [f"bridge test deps: {versions}", f"octave-cli: {octave} ({required})"]


def pytest_configure(config):
    def count(event, _args):
        if event in PROCESS_EVENTS:
            _started[0] += 1

    sys.addaudithook(count)  # once per process: an audit hook cannot be removed


@pytest.hookimpl(tryfirst=True)  # before -m selects on the markers
def pytest_collection_modifyitems(config, items):
    for item in items:
        if "octave" in getattr(item, "fixturenames", ()) and not item.get_closest_marker("octave"):
            item.add_marker(pytest.mark.octave)
        if item.get_closest_marker("octave") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.stash[_BEFORE] = _started[0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.when == "teardown" and item.get_closest_marker("slow") is None:
        started = _started[0] - item.stash.get(_BEFORE, _started[0])
        if started:
            report.user_properties.append(("unmarked_processes", started))
    return report


def pytest_terminal_summary(terminalreporter):
    unmarked = [
        (report.nodeid, dict(report.user_properties)["unmarked_processes"])
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "teardown"
        and "unmarked_processes" in dict(getattr(report, "user_properties", ()))
    ]
    if unmarked:
        terminalreporter.section("started processes but not marked slow")
        for nodeid, count in unmarked:
            terminalreporter.line(f"{nodeid}: {count} process(es)")


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
