"""BigQuery: bqemulator (PyPI; BigQuery REST + gRPC on DuckDB and sqlglot), project `demo`.

bqemulator pins DuckDB and protobuf versions that clash with Airflow's environment, so it runs
from its own virtualenv, `.devstack/bqemulator-venv`, which `prepare()` creates from the pinned
`devstack/requirements-bqemulator.txt` (with uv when there is one, else venv + pip) the first
time and whenever that file changes. The emulator cannot download DuckDB extensions here, so
`prepare()` also installs the spatial and avro extensions from their PyPI wheels.

Airflow reaches it through the Google provider's `BigQueryHook` and the same
`google_cloud_default` connection as real BigQuery (written by devstack/sheets.py): the client
library sends its calls to `BIGQUERY_EMULATOR_HOST`, which `env()` exports, and the emulator
ignores the bearer token. After start, `after_start()` loads the synthetic VAN-synced dataset
`demo.van_demo` (devstack/seed_flake_rate.py) around the campaign's today, if it is not there.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import urllib.request
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from devstack.core import HOST, PORT_OFFSET, REPO_ROOT, STATE_DIR, DevstackError, Service

PORT = 19050
GRPC_PORT = 19060 + PORT_OFFSET
PROJECT = "demo"
DUCKDB_VERSION = "1.5.5"
VENV = STATE_DIR / "bqemulator-venv"
REQUIREMENTS = REPO_ROOT / "devstack" / "requirements-bqemulator.txt"
CAMPAIGN_TZ = ZoneInfo("America/Chicago")
# Extensions bqemulator loads at start; their wheels ship them, the emulator cannot download.
EXTENSIONS = ("spatial", "avro")
_INSTALL_EXTENSIONS = (
    "import duckdb, duckdb_extensions\n"
    f"for name in {EXTENSIONS!r}:\n"
    "    duckdb_extensions.import_extension(name, con=duckdb.connect())\n"
)


def venv_python(venv: Path = VENV) -> Path:
    return venv / "bin" / "python"


def _uv() -> list[str] | None:
    """The uv command (the Makefile installs it), or None to fall back on venv + pip."""
    if found := shutil.which("uv"):
        return [found]
    for python in (sys.executable, shutil.which("python3")):
        if python and subprocess.run(
            [python, "-m", "uv", "--version"], capture_output=True, check=False
        ).returncode == 0:
            return [python, "-m", "uv"]
    return None


def _run(argv: list[str], what: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise DevstackError(f"{what} failed ({' '.join(argv[:4])} ...):\n"
                            f"{(result.stdout + result.stderr)[-3000:]}")


def ensure_venv(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> Path:
    """Create or update the emulator's virtualenv when missing or its requirements changed."""
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    stamp = venv / ".precinct-requirements.sha256"
    python = venv_python(venv)
    if not (python.exists() and stamp.exists() and stamp.read_text().strip() == digest):
        uv = _uv()
        if not python.exists():
            if uv:
                _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                     "creating the bqemulator venv")
            else:
                _run([sys.executable, "-m", "venv", str(venv)], "creating the bqemulator venv")
        if uv:
            _run([*uv, "pip", "install", "--quiet", "--compile-bytecode", "--python",
                  str(python), "-r", str(requirements)], "installing bqemulator")
        else:
            _run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)],
                 "installing bqemulator")
        _run([str(python), "-c", _INSTALL_EXTENSIONS], "installing DuckDB extensions")
        stamp.write_text(digest + "\n")
    elif not _extensions_installed():
        _run([str(python), "-c", _INSTALL_EXTENSIONS], "installing DuckDB extensions")
    return python


def _extensions_installed() -> bool:
    """DuckDB keeps installed extensions under ~/.duckdb/extensions/v<version>/<platform>/."""
    root = Path.home() / ".duckdb" / "extensions" / f"v{DUCKDB_VERSION}"
    return all(any(root.glob(f"*/{name}.duckdb_extension")) for name in EXTENSIONS)


def prepare(_service: Service) -> None:
    ensure_venv()


def command(service: Service) -> list[str]:
    # -I: the emulator's interpreter ignores PYTHONPATH (devstack points it at our packages).
    return [
        str(venv_python()), "-I", "-m", "bqemulator", "start",
        "--rest-host", HOST, "--rest-port", str(service.port),
        "--grpc-host", HOST, "--grpc-port", str(GRPC_PORT),
        "--project", PROJECT, "--ephemeral",
        "--log-level", "warning", "--log-format", "console",
    ]


def healthy(service: Service) -> bool:
    # A generous timeout: the emulator answers nothing while a query holds it (the GIL-bound
    # parts of a big query), and a busy emulator must not look dead to a second devstack user.
    with urllib.request.urlopen(f"{service.url}/readyz", timeout=10) as response:  # noqa: S310
        return response.status == 200 and json.load(response).get("status") == "ok"


def env(service: Service) -> dict[str, str]:
    # google-cloud-bigquery sends every call there; the connection itself is the Sheets
    # stand-in's google_cloud_default (project demo), shared with real BigQuery's code path.
    from devstack.seed_flake_rate import DATASET

    return {
        "BIGQUERY_EMULATOR_HOST": service.url,
        # flake_rate_refresh's `dataset` Param defaults to None (a deployment sets this
        # Variable): the synthetic dataset loaded at start.
        "AIRFLOW_VAR_FLAKE_RATE_REFRESH_DATASET": DATASET,
    }


def client(url: str | None = None, project: str = PROJECT):
    """A google-cloud-bigquery client for the emulator with anonymous credentials."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": url or SERVICE.url},
    )


def campaign_today() -> date:
    """Today in the campaign's timezone (the DAG's schedule runs on it)."""
    return datetime.now(CAMPAIGN_TZ).date()


def load_demo_data(service: Service, *, force: bool = False) -> bool:
    """Load the synthetic VAN-synced dataset into `demo.van_demo` unless it is there already."""
    from devstack import seed_flake_rate

    bq = client(service.url)
    if not force and seed_flake_rate.is_loaded(bq, seed_flake_rate.DATASET):
        return False
    data = seed_flake_rate.generate(campaign_today())
    seed_flake_rate.load(bq, seed_flake_rate.DATASET, data)
    return True


SERVICE = Service(
    name="bigquery",
    port=PORT,
    command=command,
    healthy=healthy,
    env=env,
    prepare=prepare,
    after_start=load_demo_data,
    start_timeout=60.0,
)
