"""The node's long-running processes: started detached with a PID file and a log each, stopped by PID.

A process is identified by its PID file *and* its command line (``/proc/<pid>/cmdline`` must still name the binary),
so a recycled PID is never taken for a component nor signalled. Processes may start inside the node's network
namespace (``nsenter --net``: only the network namespace changes, so the kubelet and containerd see the same mounts)
and inside a cgroup of the cluster's own (every v1 hierarchy), which lets ``down`` find whatever they left running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

from mlops_kit.errors import EnvironmentProblem
from mlops_kit.localcluster.layout import Layout

T = TypeVar("T")


@dataclass(frozen=True)
class Component:
    """One process of the node: what to run and where."""

    name: str
    argv: tuple[str, ...]
    netns: Path | None = None  # run inside this network namespace
    cgroup_procs: tuple[Path, ...] = ()  # cgroup.procs files to join before exec
    env: dict[str, str] = field(default_factory=dict)

    def command(self) -> list[str]:
        prefix = ["nsenter", f"--net={self.netns}", "--"] if self.netns else []
        return [*prefix, *self.argv]


def pid_file(layout: Layout, name: str) -> Path:
    return layout.pid_dir / f"{name}.pid"


def log_file(layout: Layout, name: str) -> Path:
    return layout.log_dir / f"{name}.log"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _exists(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def running_pid(layout: Layout, component: Component) -> int | None:
    """The component's PID if its process is alive and still runs the component's binary."""
    try:
        pid = int(pid_file(layout, component.name).read_text().strip())
    except (OSError, ValueError):
        return None
    # Right after exec the kernel shows an empty command line for a moment: wait that out.
    if not _exists(pid) or _is_zombie(pid):
        return None
    cmd = _cmdline(pid) or wait_for(lambda: _cmdline(pid) or _is_zombie(pid), timeout=1, interval=0.02)
    if not isinstance(cmd, list):
        return None
    binary = component.argv[0]
    return pid if binary in cmd else None


def start(layout: Layout, component: Component) -> int:
    """Start `component` detached (its own session, stdin closed, stdout+stderr appended to its log)."""
    layout.pid_dir.mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    procs = component.cgroup_procs

    def join_cgroups() -> None:  # runs in the child between fork and exec
        for f in procs:
            with open(f, "w") as out:
                out.write("0")

    env = {**os.environ, **component.env}
    with open(log_file(layout, component.name), "ab") as log:
        try:
            proc = subprocess.Popen(
                component.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=join_cgroups if procs else None,
            )
        except OSError as e:
            raise EnvironmentProblem(f"cannot start {component.name} ({component.argv[0]}): {e}") from e
    pid_file(layout, component.name).write_text(f"{proc.pid}\n")
    return proc.pid


def stop(layout: Layout, component: Component, *, timeout: float = 15) -> None:
    """SIGTERM, wait up to `timeout` s, then SIGKILL; removes the PID file. No error if it is not running."""
    pid = running_pid(layout, component)
    if pid is not None:
        _signal(pid, signal.SIGTERM)
        if not wait_for(lambda: running_pid(layout, component) is None, timeout=timeout):
            _signal(pid, signal.SIGKILL)
            wait_for(lambda: running_pid(layout, component) is None, timeout=5)
    pid_file(layout, component.name).unlink(missing_ok=True)


def kill_pids(pids: Sequence[int], *, timeout: float = 10) -> None:
    """SIGTERM the given processes, SIGKILL those left after `timeout` s (what `down` finds in the node's cgroups)."""

    def live(p: int) -> bool:
        return _exists(p) and not _is_zombie(p)

    for p in pids:
        _signal(p, signal.SIGTERM)
    if not wait_for(lambda: not any(live(p) for p in pids), timeout=timeout):
        for p in pids:
            _signal(p, signal.SIGKILL)
        wait_for(lambda: not any(live(p) for p in pids), timeout=5)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def wait_for(check: Callable[[], T], *, timeout: float, interval: float = 0.2) -> T | None:
    """Poll `check` until it returns something truthy (returned) or `timeout` s pass (None)."""
    try:
        return Retrying(
            stop=stop_after_delay(timeout), wait=wait_fixed(interval), retry=retry_if_result(lambda r: not r)
        )(check)
    except RetryError:
        return None


def wait_ready(layout: Layout, component: Component, check: Callable[[], T], *, timeout: float, what: str) -> T:
    """Wait until `check` answers; fail at once (with the log's tail) if the component's process is gone."""

    def answer() -> T | bool:
        if running_pid(layout, component) is None:
            return True  # stop polling: it died
        try:
            return check()
        except OSError:
            return False

    result = wait_for(answer, timeout=timeout)
    if running_pid(layout, component) is None:
        raise EnvironmentProblem(
            f"{component.name} exited while starting ({what}); last lines of {log_file(layout, component.name)}:\n"
            f"{log_tail(layout, component.name)}"
        )
    if not result:
        raise EnvironmentProblem(
            f"{component.name} is running but not {what} after {timeout:.0f} s; "
            f"last lines of {log_file(layout, component.name)}:\n{log_tail(layout, component.name)}"
        )
    return result  # type: ignore[return-value]


def log_tail(layout: Layout, name: str, lines: int = 8) -> str:
    try:
        text = log_file(layout, name).read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(line[:300] for line in text.splitlines()[-lines:])


def run(
    args: Sequence[str],
    *,
    what: str,
    timeout: float = 60,
    check: bool = True,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a short command; a failure (with `check`) is an EnvironmentProblem naming `what` and the command's output."""
    try:
        done = subprocess.run(
            list(args), input=stdin, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, **env} if env else None,
        )  # fmt: skip
    except subprocess.TimeoutExpired as e:
        raise EnvironmentProblem(f"{what}: `{' '.join(args[:4])}` did not finish within {timeout:.0f} s") from e
    except OSError as e:
        raise EnvironmentProblem(f"{what}: cannot run {args[0]}: {e}") from e
    if check and done.returncode != 0:
        out = (done.stderr.strip() or done.stdout.strip())[-1500:]
        raise EnvironmentProblem(f"{what}: `{' '.join(args[:6])}` failed (exit {done.returncode}): {out}")
    return done
