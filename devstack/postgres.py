"""A real PostgreSQL server for the tracker database (and, later, the Civis/Redshift stand-in).

It runs Debian's (or the laptop's) PostgreSQL binaries directly with a data folder under
.devstack/, trusting loopback connections. PostgreSQL refuses to run as root, so on CI (root) the
server runs as the `postgres` system user that Debian's package creates.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import stat
import subprocess
from pathlib import Path

from devstack.core import HOST, DevstackError, Service, as_user, conn_json

PORT = 54329
SUPERUSER = "postgres"
DATABASES = ("tracker", "civis")


def bin_dir() -> Path:
    """The newest PostgreSQL server binaries on this machine."""
    if found := shutil.which("pg_config"):
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True, check=False)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if versions:
        return Path(versions[-1]).parent
    if found := shutil.which("initdb"):
        return Path(found).parent
    raise DevstackError(
        "No PostgreSQL server binaries (initdb) found. Install them: "
        "`apt-get install -y postgresql` on Debian/Ubuntu, `brew install postgresql` on macOS."
    )


def _owner(service: Service) -> str | None:
    return SUPERUSER if os.geteuid() == 0 else None


def _data(service: Service) -> Path:
    return service.dir / "data"


def _socket_dir(service: Service) -> Path:
    return service.dir / "run"


def _make_traversable(path: Path, user: str) -> None:
    """As root, let the server's user reach the data folder (CI clones into 0700 temp dirs)."""
    uid = pwd.getpwnam(user).pw_uid
    for parent in [path, *path.parents]:
        try:
            st = parent.stat()
        except FileNotFoundError:
            continue
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            parent.chmod(st.st_mode | stat.S_IXOTH)


def prepare(service: Service) -> None:
    data, run = _data(service), _socket_dir(service)
    owner = _owner(service)
    run.mkdir(parents=True, exist_ok=True)
    if owner:
        _make_traversable(service.dir, owner)
        user = pwd.getpwnam(owner)
        for folder in (service.dir, run):
            os.chown(folder, user.pw_uid, user.pw_gid)
        if data.exists():
            os.chown(data, user.pw_uid, user.pw_gid)
    if (data / "PG_VERSION").exists():
        return
    argv = [
        str(bin_dir() / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
        "--encoding=UTF8", "--locale=C", "--no-sync",
    ]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **as_user(owner))
    if result.returncode != 0:
        raise DevstackError(f"initdb failed:\n{result.stdout}\n{result.stderr}")


def command(service: Service) -> list[str]:
    return [
        str(bin_dir() / "postgres"),
        "-D", str(_data(service)),
        "-p", str(service.port),
        "-c", f"listen_addresses={HOST}",
        "-c", f"unix_socket_directories={_socket_dir(service)}",
        "-c", "fsync=off",  # a throwaway local server: speed over durability
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
        "-c", "max_connections=100",
    ]


def dsn(database: str = "postgres", port: int | None = None) -> str:
    """A libpq URL for one of devstack's databases (trust auth on loopback: no password)."""
    return f"postgresql://{SUPERUSER}@{HOST}:{port or SERVICE.port}/{database}"


def healthy(service: Service) -> bool:
    import psycopg

    with psycopg.connect(dsn(port=service.port), connect_timeout=2) as conn:
        return conn.execute("SELECT 1").fetchone() == (1,)


def after_start(service: Service) -> None:
    import psycopg

    with psycopg.connect(dsn(port=service.port), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
        for name in DATABASES:
            if name not in existing:
                conn.execute(f'CREATE DATABASE "{name}"')


def env(service: Service) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_TRACKER_DB": conn_json(
            conn_type="postgres", host=HOST, port=service.port, login=SUPERUSER, schema="tracker"
        ),
    }


SERVICE = Service(
    name="postgres",
    port=PORT,
    command=command,
    healthy=healthy,
    env=env,
    prepare=prepare,
    after_start=after_start,
    run_as=_owner,
    stop_signal=signal.SIGINT,  # "fast" shutdown: disconnect clients, then exit
)
