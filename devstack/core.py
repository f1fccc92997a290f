"""Process management for the local stand-ins.

Every stand-in is a plain background process on a fixed loopback port. We record the PID of each
process we start (and only those), wait for its health check, and write the Airflow connection
variables that point at it into one env file that the Makefile, `airflow standalone` and the
tests all load. Nothing here needs Docker.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_DIR = Path(os.environ.get("PRECINCT_DEVSTACK_DIR", REPO_ROOT / ".devstack"))
ENV_FILE = STATE_DIR / "airflow.env"
HOST = "127.0.0.1"
# Shift every stand-in's port, to run a second devstack beside one that is already up.
PORT_OFFSET = int(os.environ.get("PRECINCT_DEVSTACK_PORT_OFFSET", "0"))

# Variables every devstack session exports besides the connections.
BASE_ENV = {
    "AIRFLOW_VAR_PRECINCT_ALERT_EMAILS": "ops@precinct.test",
}


class DevstackError(RuntimeError):
    """A stand-in could not be started or answered no health check."""


@dataclass
class Service:
    """One stand-in: how to start it, how to know it is up, and what connections it serves."""

    name: str
    port: int
    command: Callable[[Service], list[str]]
    healthy: Callable[[Service], bool]
    env: Callable[[Service], dict[str, str]] = lambda _s: {}
    prepare: Callable[[Service], None] | None = None
    after_start: Callable[[Service], None] | None = None
    run_as: Callable[[Service], str | None] = lambda _s: None
    stop_signal: int = signal.SIGTERM
    start_timeout: float = 30.0
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.port += PORT_OFFSET

    @property
    def dir(self) -> Path:
        return STATE_DIR / self.name

    @property
    def pid_file(self) -> Path:
        return STATE_DIR / "pids" / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STATE_DIR / "logs" / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pid(self) -> int | None:
        """The PID we recorded, if that process is still alive."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        return pid

    def is_up(self) -> bool:
        return self.pid() is not None and _safe(self.healthy, self)

    def start(self) -> None:
        if self.is_up():
            return
        if self.pid() is not None:
            self.stop()
        for folder in (self.dir, self.pid_file.parent, self.log_file.parent):
            folder.mkdir(parents=True, exist_ok=True)
        if self.prepare:
            self.prepare(self)
        argv = self.command(self)
        env = {**os.environ, **self.extra_env}
        # Our own stand-in modules import `devstack` and `precinct` whatever the cwd.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO_ROOT), str(REPO_ROOT / "plugins"), env.get("PYTHONPATH", "")]
        ).rstrip(os.pathsep)
        with open(self.log_file, "ab") as log:
            log.write(f"\n--- {time.strftime('%F %T')} {shlex.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.dir,
                start_new_session=True,  # own process group: `down` stops it and its children
                **as_user(self.run_as(self)),
            )
        self.pid_file.write_text(str(proc.pid))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise DevstackError(
                    f"{self.name} exited with code {proc.returncode} during start; "
                    f"see {self.log_file}:\n{_tail(self.log_file)}"
                )
            if _safe(self.healthy, self):
                if self.after_start:
                    self.after_start(self)
                return
            time.sleep(0.2)
        self.stop()
        raise DevstackError(
            f"{self.name} did not answer its health check on port {self.port} within "
            f"{self.start_timeout:.0f}s; see {self.log_file}:\n{_tail(self.log_file)}"
        )

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            try:
                os.killpg(pid, self.stop_signal)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.pid_file.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone.
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)
        return waited == 0
    except ChildProcessError:
        return Path(f"/proc/{pid}").exists()


def _safe(check: Callable[[Service], bool], service: Service) -> bool:
    try:
        return bool(check(service))
    except Exception:  # noqa: BLE001 - a health check that raises means "not healthy yet"
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def write_env_file(services: list[Service]) -> Path:
    """Write the Airflow variables of the services that are up, as shell-safe KEY='value' lines."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    values = dict(BASE_ENV)
    for service in services:
        if service.is_up():
            values.update(service.env(service))
    lines = [f"# Written by `python -m devstack up` on {time.strftime('%F %T')}. Do not commit."]
    lines += [f"{key}={shlex.quote(value)}" for key, value in sorted(values.items())]
    ENV_FILE.write_text("\n".join(lines) + "\n")
    return ENV_FILE


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    """Parse the env file back (tests and the demo load it into their environment)."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, raw = line.split("=", 1)
        values[key] = shlex.split(raw)[0] if raw else ""
    return values


def as_user(user: str | None) -> dict[str, Any]:
    """subprocess arguments that run a child as `user` with that user's own groups only.

    Dropping just the uid would leave the child in root's group, and a 0701 folder owned by root
    (what mktemp makes) would then refuse it through its group bits.
    """
    if not user:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def http_ok(path: str) -> Callable[[Service], bool]:
    """A health check: GET `path` on the service answers 200 (a stand-in's health endpoint)."""

    def check(service: Service) -> bool:
        import urllib.request

        url = f"{service.url}{path}"
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
            return response.status == 200

    return check


def conn_json(**fields: object) -> str:
    """An Airflow connection in the JSON form AIRFLOW_CONN_* variables accept."""
    return json.dumps({k: v for k, v in fields.items() if v is not None})


def python_argv(module: str, *args: str) -> list[str]:
    """Run one of our stand-in modules with this interpreter, from the repository root."""
    return [sys.executable, "-m", module, *args]
