"""A throwaway PostgreSQL + PostGIS server for the test run (127.0.0.1, a free port, /tmp data dir).

Started once per test session and stopped at its end, by its process id. Found from
Debian's packages (postgresql-15, postgresql-15-postgis-3); `.ci/run` installs them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bindir() -> Path | None:
    """Newest /usr/lib/postgresql/*/bin that has initdb and a PostGIS extension beside it."""
    for bindir in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        version = Path(bindir).parent.name
        if Path(bindir, "initdb").exists() and glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
            return Path(bindir)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start/stop, run as the `postgres` user when we are root."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="gridmap-pg-"))
        self.datadir = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> "PostgresServer":
        if self.user:
            shutil.chown(self.root, self.user)
        self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale")
        conf = (f"listen_addresses='127.0.0.1'\nfsync=off\nsynchronous_commit=off\n"
                f"full_page_writes=off\nunix_socket_directories='{self.root}'\n")
        with open(self.datadir / "postgresql.conf", "a") as fh:
            fh.write(conf)
        for attempt in range(3):  # pytest-xdist workers pick free ports at once: a lost race picks again
            with open(self.datadir / "postgresql.conf", "a") as fh:
                fh.write(f"port={self.port}\n")  # the last setting in the file wins
            started = self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.root / "log"), "-w", "-t", "60",
                                "start", check=attempt == 2)
            if started.returncode == 0:
                break
            self.port = _free_port()
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def pid(self) -> int | None:
        pidfile = self.datadir / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def stop(self) -> None:
        # immediate: no shutdown checkpoint writing out the dirty pages of a data directory deleted next
        self._run("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def wait_port(port: int, timeout: float = 10.0) -> None:
    end = time.time() + timeout
    while time.time() < end:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")
