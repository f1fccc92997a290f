"""SMTP capture: aiosmtpd stores every message it receives in a maildir for tests and the demo."""

from __future__ import annotations

import mailbox
import socket
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from devstack.core import HOST, STATE_DIR, Service, conn_json, python_argv

PORT = 10025
FROM_EMAIL = "precinct@localhost"
MAILDIR = STATE_DIR / "smtp" / "maildir"


def command(service: Service) -> list[str]:
    return python_argv(
        "aiosmtpd", "--nosetuid", "--listen", f"{HOST}:{service.port}",
        "--class", "aiosmtpd.handlers.Mailbox", str(MAILDIR),
    )


def healthy(service: Service) -> bool:
    with socket.create_connection((HOST, service.port), timeout=2) as sock:
        return sock.recv(128).startswith(b"220")


def env(service: Service) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_SMTP_DEFAULT": conn_json(
            conn_type="smtp",
            host=HOST,
            port=service.port,
            extra={"from_email": FROM_EMAIL, "disable_ssl": True, "disable_tls": True},
        ),
    }


def messages(maildir: Path = MAILDIR) -> list[EmailMessage]:
    """Every captured message, oldest first."""
    if not maildir.exists():
        return []
    box = mailbox.Maildir(maildir, create=False)
    parser = BytesParser(policy=policy.default)
    # Maildir keys start with the delivery time, so sorting them orders messages by arrival.
    return [parser.parsebytes(box.get_bytes(key)) for key in sorted(box.keys())]


def clear(maildir: Path = MAILDIR) -> None:
    """Forget every captured message (tests start from an empty mailbox)."""
    if maildir.exists():
        mailbox.Maildir(maildir, create=False).clear()


SERVICE = Service(
    name="smtp",
    port=PORT,
    command=command,
    healthy=healthy,
    env=env,
    prepare=lambda _s: mailbox.Maildir(MAILDIR, create=True) and None,
)
