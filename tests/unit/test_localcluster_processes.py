"""Node processes: PID files checked against the command line, and a component kept, started or restarted by `up`."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops_kit.localcluster import node, processes
from mlops_kit.localcluster.layout import Layout
from mlops_kit.localcluster.processes import Component

SLEEP = shutil.which("sleep") or "/bin/sleep"


@pytest.fixture
def lay(tmp_path: Path) -> Layout:
    return Layout(name="unit", slot=1, cache=tmp_path / "cache", run_root=tmp_path / "run")


@pytest.fixture
def spec(lay, tmp_path):
    conf = tmp_path / "conf"
    conf.write_text("a")
    s = node.Spec(Component(name="sleeper", argv=(SLEEP, "60")), (conf,))
    yield s
    processes.stop(lay, s.component, timeout=5)


def test_a_running_component_with_unchanged_inputs_is_kept(lay, spec):
    assert node.ensure_running(lay, spec) is True
    pid = processes.running_pid(lay, spec.component)
    assert pid is not None
    assert node.ensure_running(lay, spec) is False
    assert processes.running_pid(lay, spec.component) == pid


def test_a_changed_config_restarts_it(lay, spec):
    node.ensure_running(lay, spec)
    pid = processes.running_pid(lay, spec.component)
    spec.inputs[0].write_text("b")
    assert node.ensure_running(lay, spec) is True
    assert processes.running_pid(lay, spec.component) not in (None, pid)


def test_a_dead_component_is_started_again(lay, spec):
    node.ensure_running(lay, spec)
    processes.stop(lay, spec.component)
    assert processes.running_pid(lay, spec.component) is None
    assert node.ensure_running(lay, spec) is True
    assert processes.running_pid(lay, spec.component) is not None


def test_a_recycled_pid_is_not_taken_for_the_component(lay, spec):
    lay.pid_dir.mkdir(parents=True)
    processes.pid_file(lay, "sleeper").write_text("1\n")  # PID 1 runs something else
    assert processes.running_pid(lay, spec.component) is None


def test_wait_ready_reports_a_component_that_died_with_its_log(lay):
    from mlops_kit.errors import EnvironmentProblem

    dies = Component(name="dies", argv=(shutil.which("false") or "/bin/false",))
    processes.start(lay, dies)
    with pytest.raises(EnvironmentProblem, match="dies exited while starting"):
        processes.wait_ready(lay, dies, lambda: False, timeout=10, what="healthy")
