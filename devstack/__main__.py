"""`python -m devstack up|down|status [service ...]`: start, stop or list the local stand-ins."""

from __future__ import annotations

import argparse
import sys

from devstack.core import ENV_FILE, DevstackError, write_env_file
from devstack.services import SERVICES, by_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__)
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("services", nargs="*", help="only these (default: all)")
    args = parser.parse_args(argv)
    chosen = by_name(args.services)

    if args.action == "up":
        for service in chosen:
            try:
                service.start()
            except DevstackError as exc:
                print(f"devstack: {exc}", file=sys.stderr)
                return 1
            print(f"{service.name:<14} up    {service.url}  (pid {service.pid()})")
        print(f"connections: {write_env_file(SERVICES)}")
    elif args.action == "down":
        for service in reversed(chosen):
            service.stop()
            print(f"{service.name:<14} down")
        write_env_file(SERVICES)
    else:
        for service in chosen:
            state = "up" if service.is_up() else "down"
            pid = service.pid()
            suffix = f"  (pid {pid})" if pid else ""
            print(f"{service.name:<14} {state:<5} {service.url}{suffix}")
        print(f"connections: {ENV_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
