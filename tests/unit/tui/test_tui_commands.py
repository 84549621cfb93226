"""`observatory dashboard` / `observatory web`: settings, the web mirror's server, and import hygiene."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tui.cli import main
from tui.dashboard_cmd import UsageError, endpoints_from
from tui.web_cmd import build_app

ROOT = Path(__file__).resolve().parents[3]


def _args(read_model: str | None = None, gateway: str | None = None) -> argparse.Namespace:
    return argparse.Namespace(read_model=read_model, gateway=gateway)


def test_endpoints_flags_beat_env_beat_defaults(tmp_path: Path) -> None:
    assert endpoints_from(_args(), {}).read_model == "http://127.0.0.1:8080"
    assert endpoints_from(_args(), {}).gateway == "http://127.0.0.1:3000"
    env = {
        "READ_MODEL_URL": "http://rm:1/",
        "GATEWAY_URL": "http://gw:2",
        "OBSERVATORY_API_TOKEN": " s3cret ",
    }
    found = endpoints_from(_args(), env)
    assert (found.read_model, found.gateway, found.token) == ("http://rm:1", "http://gw:2", "s3cret")
    assert endpoints_from(_args("http://flag:9"), env).read_model == "http://flag:9"
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert endpoints_from(_args(), {"OBSERVATORY_API_TOKEN_FILE": str(token_file)}).token == "from-file"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (_args("127.0.0.1:8080"), {}, "--read-model '127.0.0.1:8080' is not an http(s) URL"),
        (_args(gateway="ftp://x"), {}, "--gateway 'ftp://x' is not an http(s) URL"),
        (_args(), {"OBSERVATORY_API_TOKEN_FILE": "/nonexistent/token"}, "cannot be read"),
    ],
)
def test_bad_settings_are_one_readable_line(
    args: argparse.Namespace, env: dict[str, str], message: str
) -> None:
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        endpoints_from(args, env)


def test_dashboard_refuses_a_bad_url_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dashboard", "--read-model", "nope"]) == 2
    assert capsys.readouterr().err.strip() == (
        "observatory dashboard: --read-model 'nope' is not an http(s) URL such as http://127.0.0.1:8080"
    )


def _asgi(app: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mirror.test")  # type: ignore[arg-type]


async def test_web_mirror_serves_the_page_its_assets_and_its_config() -> None:
    async with _asgi(build_app("http://127.0.0.1:18080", "http://127.0.0.1:13000")) as client:
        page = await client.get("/")
        assert page.status_code == 200 and "Task Observatory" in page.text
        assert "connect-src 'self' http://127.0.0.1:18080" in page.headers["content-security-policy"]
        assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")  # no CDN in the head
        assert (await client.get("/assets/app.js")).status_code == 200
        assert (await client.get("/assets/style.css")).status_code == 200
        assert (await client.get("/config.json")).json() == {
            "readModel": "http://127.0.0.1:18080", "gateway": "http://127.0.0.1:13000", "submitUrl": "/gateway/jobs",
        }  # fmt: skip


async def test_web_mirror_forwards_submissions_and_answers_unchanged() -> None:
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            422,
            json={
                "title": "Unprocessable",
                "status": 422,
                "errors": [{"pointer": "/payload", "message": "bad"}],
            },
            headers={"Content-Type": "application/problem+json", "X-Correlation-Id": "c-1"},
        )

    app = build_app("http://rm", "http://gw:3000", transport=httpx.MockTransport(gateway))
    async with _asgi(app) as client:
        answer = await client.post(
            "/gateway/jobs", json={"type": "echo", "payload": {}}, headers={"X-Correlation-Id": "c-1"}
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["errors"] == [{"pointer": "/payload", "message": "bad"}]
    assert str(seen[0].url) == "http://gw:3000/jobs"
    assert seen[0].headers["x-correlation-id"] == "c-1"
    assert json.loads(seen[0].content) == {"type": "echo", "payload": {}}


async def test_web_mirror_says_when_the_gateway_is_down() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = build_app("http://rm", "http://127.0.0.1:9", transport=httpx.MockTransport(refused))
    async with _asgi(app) as client:
        answer = await client.post("/gateway/jobs", json={"type": "echo", "payload": {}})
    assert answer.status_code == 502
    assert answer.json()["detail"].startswith(
        "gateway unreachable at http://127.0.0.1:9 — start it with `observatory up`"
    )


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("tui.client", ("textual",)),
        ("tui.dashboard_cmd", ("textual",)),  # `observatory --help` must not pay for Textual
        ("tui.web_cmd", ("textual",)),
        ("tui.app", ("psycopg", "pymongo", "redis", "pika")),  # the client reads only over HTTP
    ],
)
def test_import_hygiene(module: str, absent: tuple[str, ...]) -> None:
    code = f"import sys, {module}; print(','.join(m for m in {absent!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} imports {out.stdout.strip()}"
