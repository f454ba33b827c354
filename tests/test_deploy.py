"""The deployment files: docker-compose.yml, the Dockerfile, the systemd unit and nginx's server block.

Each is parsed and held to what the app accepts (its commands parse with the CLI's own parser, its paths and
ports agree); the systemd unit goes through `systemd-analyze verify`, and nginx's block through `nginx -t` and
then a real nginx with a self-signed certificate, proxying to a local upstream. Without nginx or openssl those
tests fail when REQUIRE_NGINX=1 (CI), and are skipped with a reason otherwise.
"""

import asyncio
import configparser
import http.client
import inspect
import json
import os
import re
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestServer
from sqlalchemy.engine import make_url

from bot.cli import _parser
from bot.dispatch import Dispatcher
from bot.settings import load_settings
from bot.web import make_web_app

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "deploy" / "tthc-bot.service"
NGINX_SITE = ROOT / "deploy" / "nginx.conf"
SERVER_NAME = "bot.example.vn"


def bot_args(command: list[str]) -> list[str]:
    """The arguments after `python -m bot` (any python), checked to parse with the CLI's parser."""
    assert Path(command[0]).name == "python" and command[1:3] == ["-m", "bot"], command
    _parser().parse_args(command[3:])  # exits (fails the test) on anything the CLI does not accept
    return command[3:]


def seconds(value: str | int) -> int:
    """`30`, `30s`, `1m30s`, `1min 30s` as seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    parts = re.findall(r"(\d+)\s*([a-z]*)", str(value))
    assert parts and "".join(n + u for n, u in parts) == re.sub(r"\s", "", str(value)), value
    return sum(int(n) * units[u] for n, u in parts)


def tool(name: str) -> str:
    """The path of a program the nginx tests need; missing: fail under REQUIRE_NGINX=1, else skip."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/sbin")
    if found is None:
        if os.environ.get("REQUIRE_NGINX"):
            pytest.fail(f"{name} is required but missing (apt-get install nginx openssl)")
        pytest.skip(f"no {name} on this machine")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- docker-compose.yml and the Dockerfile -----------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",))
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"))
    return parser


def test_compose_runs_the_app_after_a_healthy_database(compose):
    assert set(compose["services"]) == {"app", "db"}
    app, database = compose["services"]["app"], compose["services"]["db"]
    assert app["depends_on"] == {"db": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(database["healthcheck"]["test"])
    assert bot_args(app["command"])[0] == "run"
    assert app["build"] == "." and app["restart"] == database["restart"] == "unless-stopped"
    # PostgreSQL keeps its files in a named volume, the app its uploads in another.
    volumes = set(compose["volumes"])
    assert {v.split(":")[0] for v in database["volumes"] + app["volumes"]} == volumes
    assert [v.split(":")[1] for v in database["volumes"]] == ["/var/lib/postgresql/data"]
    assert [v.split(":")[1] for v in app["volumes"]] == [app["environment"]["DATA_DIR"]]
    assert app["env_file"] == [{"path": ".env", "required": False}]


def test_compose_app_reaches_the_database_it_starts(compose):
    app, database = compose["services"]["app"], compose["services"]["db"]
    env = app["environment"]
    url = make_url(env["DATABASE_URL"].replace(database["environment"]["POSTGRES_PASSWORD"], "secret"))
    assert url.drivername == "postgresql+psycopg" and url.host == "db" and url.password == "secret"
    assert url.username == database["environment"]["POSTGRES_USER"]
    assert url.database == database["environment"]["POSTGRES_DB"]
    settings = load_settings(**{k.lower(): v for k, v in env.items()} | {"database_url": str(url)})
    assert settings.host == "0.0.0.0"
    assert app["ports"] == [f"127.0.0.1:{settings.port}:{settings.port}"]


def test_stopping_leaves_the_app_time_to_drain(compose):
    """SIGTERM, then at least the dispatcher's drain time before a kill, in compose and under systemd alike."""
    drain = inspect.signature(Dispatcher).parameters["drain"].default
    app = compose["services"]["app"]
    service = unit()["Service"]
    assert app["stop_signal"] == service["KillSignal"] == "SIGTERM"
    assert seconds(app["stop_grace_period"]) == seconds(service["TimeoutStopSec"]) > drain


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions as (NAME, arguments), continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_installs_the_package_and_runs_it_unprivileged():
    steps = dockerfile()
    names = [name for name, _ in steps]
    args = dict(steps)  # the last of each instruction
    assert bot_args(json.loads(args["CMD"])) == ["run"]
    assert args["USER"] not in ("root", "0") and names.index("USER") > names.index("RUN")
    assert "HOST=0.0.0.0" in args["ENV"].split()
    assert any(name == "RUN" and "pip install /src" in a for name, a in steps)
    # Every package pyproject.toml installs is copied into the image.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    copied = {a.split()[0] for name, a in steps if name == "COPY"}
    assert set(packages) <= copied and "README.md" in " ".join(a for name, a in steps if name == "COPY")
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", ".env", "data"} <= set(ignored)


def healthcheck() -> list[str]:
    line = dict(dockerfile())["HEALTHCHECK"]
    return json.loads(line[line.index(" CMD ") + 5 :])


async def test_dockerfile_healthcheck_probes_healthz(app):
    len(app.kb)  # the search index is built at start, as `python -m bot run` does before it listens
    server = TestServer(make_web_app(app), host="127.0.0.1", port=free_port())
    await server.start_server()
    command = [sys.executable, *healthcheck()[1:]]
    env = {**os.environ, "PORT": str(server.port)}
    probe = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.DEVNULL)
    assert await probe.wait() == 0
    await server.close()
    probe = await asyncio.create_subprocess_exec(*command, env=env, stderr=asyncio.subprocess.DEVNULL)
    assert await probe.wait() != 0


# ---- the systemd unit ------------------------------------------------------------------------------------------


def test_unit_runs_the_cli_upgrade_first_and_is_confined():
    service = unit()["Service"]
    python = "/opt/tthc-bot/.venv/bin/python"
    assert bot_args(shlex.split(service["ExecStartPre"])) == ["db", "upgrade"]
    assert bot_args(shlex.split(service["ExecStart"]))[0] == "run"
    assert shlex.split(service["ExecStart"])[0] == python
    assert service["User"] == "tthc" and service["WorkingDirectory"] == "/opt/tthc-bot"
    assert service["EnvironmentFile"] == "/etc/tthc-bot.env" and service["Restart"] == "on-failure"
    data_dir = dict(kv.split("=", 1) for kv in shlex.split(service["Environment"]))["DATA_DIR"]
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == data_dir
    assert service["NoNewPrivileges"] == service["PrivateTmp"] == "yes"


def test_unit_passes_systemd_analyze_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("no systemd-analyze on this machine")
    # The unit as installed, but for the interpreter, which must exist here.
    copy = tmp_path / UNIT.name
    copy.write_text(UNIT.read_text(encoding="utf-8").replace("/opt/tthc-bot/.venv/bin/python", sys.executable))
    r = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [line for line in r.stderr.splitlines() if UNIT.name in line] == []


# ---- nginx ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate and its key for SERVER_NAME."""
    openssl = tool("openssl")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "fullchain.pem", d / "privkey.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={SERVER_NAME}"]
        + ["-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def site(certificate, http=None, https=None, upstream=None) -> str:
    """deploy/nginx.conf with the test certificate; with ports given, listening there (IPv4 only) and proxying
    to the upstream's port instead of the app's."""
    cert, key = certificate
    text = NGINX_SITE.read_text(encoding="utf-8")
    text = text.replace(f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem", str(cert))
    text = text.replace(f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem", str(key))
    if http is not None:
        text = re.sub(r"\n\s*listen \[::\]:\d+[^;]*;", "", text)
        text = text.replace("listen 80;", f"listen 127.0.0.1:{http};")
        text = text.replace("listen 443 ssl", f"listen 127.0.0.1:{https} ssl")
        text = text.replace("proxy_pass http://127.0.0.1:8080;", f"proxy_pass http://127.0.0.1:{upstream};")
    return text


def main_config(d: Path, server: str) -> Path:
    """A whole nginx configuration around one server file, everything it writes kept in `d`."""
    (d / "site.conf").write_text(server, encoding="utf-8")
    config = d / "nginx.conf"
    temp = "\n".join(f"  {kind}_temp_path {d / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    config.write_text(
        f"pid {d / 'nginx.pid'};\nerror_log {d / 'error.log'};\nevents {{}}\n"
        f"http {{\n  access_log off;\n{temp}\n  include {d / 'site.conf'};\n}}\n",
        encoding="utf-8",
    )
    return config


def test_nginx_accepts_the_server_block(certificate, tmp_path):
    nginx = tool("nginx")
    config = main_config(tmp_path, site(certificate))
    r = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and "test is successful" in r.stderr, r.stderr
    assert "[warn]" not in r.stderr and "[emerg]" not in r.stderr, r.stderr


class Echo(BaseHTTPRequestHandler):
    """The upstream: answers with what reached it (method, path, headers, body size)."""

    def _answer(self) -> None:
        size = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(size)
        body = json.dumps({"method": self.command, "path": self.path, "headers": dict(self.headers), "size": size})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def proxy(certificate, tmp_path):
    """nginx running deploy/nginx.conf on free loopback ports in front of the Echo upstream: (http, https)."""
    nginx = tool("nginx")
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    http, https = free_port(), free_port()
    config = main_config(tmp_path, site(certificate, http, https, upstream.server_address[1]))
    command = [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(config)]
    server = subprocess.Popen([*command, "-g", "daemon off; master_process off;"], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert server.poll() is None, server.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start listening"
                time.sleep(0.1)
        yield http, https
    finally:
        server.terminate()
        server.wait(timeout=20)
        upstream.shutdown()
        upstream.server_close()


def request(port: int, method: str, path: str, body: bytes | None = None, tls: bool = True, cafile=None):
    if tls:
        context = ssl.create_default_context(cafile=str(cafile))
        context.check_hostname = False  # the certificate names SERVER_NAME; we connect to 127.0.0.1
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=30)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Host": SERVER_NAME})
        version = conn.sock.version() if tls else None
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read(), version
    finally:
        conn.close()


def test_nginx_proxies_to_the_app_over_tls(proxy, certificate):
    http, https = proxy
    cert, _ = certificate

    # Plain http moves to https, path and query kept.
    status, headers, _, _ = request(http, "GET", "/admin/login?next=%2Fadmin", tls=False)
    assert status == 301 and headers["Location"] == f"https://{SERVER_NAME}/admin/login?next=%2Fadmin"

    # Over TLS, the app gets the request with who asked and how; the answer carries HSTS.
    status, headers, body, version = request(https, "POST", "/telegram/webhook", b"{}", cafile=cert)
    assert status == 200 and version in ("TLSv1.2", "TLSv1.3")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    seen = json.loads(body)
    assert seen["method"] == "POST" and seen["path"] == "/telegram/webhook"
    assert seen["headers"]["Host"] == SERVER_NAME
    assert seen["headers"]["X-Forwarded-Proto"] == "https"
    assert seen["headers"]["X-Forwarded-For"] == "127.0.0.1"

    # The metrics are for Prometheus on the app's own port, not for the public.
    status, _, body, _ = request(https, "GET", "/metrics", cafile=cert)
    assert status == 404 and b"/metrics" not in body

    # A knowledge-base import of up to 50 MB gets through; beyond the limit, nginx answers 413 itself.
    status, _, body, _ = request(https, "POST", "/admin/imports", b"x" * (50 * 2**20), cafile=cert)
    assert status == 200 and json.loads(body)["size"] == 50 * 2**20
    status, _, _, _ = request(https, "POST", "/admin/imports", b"x" * (56 * 2**20), cafile=cert)
    assert status == 413
