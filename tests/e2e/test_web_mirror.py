"""The web mirror and the launcher page in Debian's chromium, against a real read model.

A read model process runs on a free port over this session's isolated stores; a few jobs are written
straight into PostgreSQL through JobRepository; ``observatory web`` serves the page on another free port
with the gateway pointed at a port where nothing listens. Playwright drives headless chromium.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Services, free_port
from tests.e2e.conftest import wait_for

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
SCREENSHOT = os.environ.get("WEB_MIRROR_SCREENSHOT")  # set to a path to keep a picture of the page


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def _seed(database_url: str) -> dict[str, str]:
    from psycopg.types.json import Jsonb

    from functions.core.stores.postgres import JobRepository, make_pool

    ids = {name: str(uuid.uuid4()) for name in ("echo", "fail", "sleep")}
    pool = make_pool(database_url, max_size=2, name="web-e2e-seed")
    await pool.open()
    try:
        repo = JobRepository(pool)
        for job_type, job_id in ids.items():
            payload = {"message": "web-e2e"} if job_type != "sleep" else {"seconds": 1}
            await repo.record_pending(job_id, job_type, payload, f"corr-{job_type}", f"evt-{job_type}")
            await asyncio.sleep(0.01)  # distinct created_at, so the order on the page is known
        async with pool.connection() as conn:
            await conn.execute(
                "UPDATE jobs SET status = 'FAILED', status_rank = 2, error = %(e)s, finished_at = now(), "
                "started_at = now() WHERE id = %(id)s",
                {"id": ids["fail"], "e": Jsonb({"code": "boom", "message": "failed on purpose"})},
            )
    finally:
        await pool.close()
    return ids


@pytest.fixture(scope="module")
def stack(services: Services, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium", pytrace=False)
    logs = tmp_path_factory.mktemp("web-e2e")
    rm_port, web_port, dead_port = free_port(), free_port(), free_port()
    env = {**os.environ, **services.env(PORT=str(rm_port), FUNCTION_TARGET="readmodel",
                                        FUNCTION_SOURCE="functions/readmodel/main.py")}  # fmt: skip
    env.pop("ALERTMANAGER_URL", None)
    env.pop("OBSERVATORY_API_TOKEN", None)
    read_model = _spawn([sys.executable, "-m", "uvicorn", "functions_framework.aio:app", "--host", "127.0.0.1",
                         "--port", str(rm_port), "--log-level", "warning"], env, logs / "readmodel.log")  # fmt: skip
    rm_url = f"http://127.0.0.1:{rm_port}"
    web_url = f"http://127.0.0.1:{web_port}"
    web = _spawn([sys.executable, "-m", "tui.cli", "web", "--port", str(web_port), "--read-model", rm_url,
                  "--gateway", f"http://127.0.0.1:{dead_port}"], dict(os.environ), logs / "web.log")  # fmt: skip
    try:
        wait_for("read model /health", lambda: _up(rm_url + "/health"), 60)
        wait_for("web mirror /health", lambda: _up(web_url + "/health"), 60)
        ids = asyncio.run(_seed(services.database_url))
        yield {
            "read_model": rm_url,
            "web": web_url,
            "ids": ids,
            "dead_gateway": f"http://127.0.0.1:{dead_port}",
        }
    finally:
        _stop(web)
        _stop(read_model)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1280, "height": 900},
        )  # fmt: skip
        yield context
        context.close()


def test_the_mirror_lists_jobs_live_and_filters_them(stack: dict[str, Any], browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(stack["web"] + "/")
    ids = stack["ids"]
    expect(page.get_by_test_id("live")).to_have_text("● live")
    rows = page.locator("#jobs-body tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text(ids["sleep"][:8])  # newest first
    expect(rows.nth(2)).to_contain_text(ids["echo"][:8])
    expect(page.locator("#latency")).to_contain_text("latency p50")
    expect(page.get_by_test_id("alerts")).to_contain_text("no alert source")
    if SCREENSHOT:
        page.screenshot(path=SCREENSHOT, full_page=True)

    page.select_option("#status-filter", "FAILED")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text("boom")
    page.select_option("#status-filter", "")
    page.fill("#search", "sl")
    expect(page.locator("#filter-hint")).to_have_text("type at least 3 characters to search")
    page.fill("#search", "sleep")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_contain_text(ids["sleep"][:8])
    page.close()


def test_a_click_opens_the_timeline_with_its_verdict(stack: dict[str, Any], browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(stack["web"] + "/")
    page.locator("#jobs-body tr", has_text=stack["ids"]["fail"][:8]).click()
    expect(page.get_by_test_id("detail")).to_be_visible()
    expect(page.locator("#detail-summary")).to_contain_text("status FAILED")
    # Seeded straight into PostgreSQL: no audit event backs the FAILED row, and the verdict says so.
    expect(page.get_by_test_id("verdict")).to_contain_text("✗ inconsistent")
    expect(page.locator("#timeline-body tr").first).to_contain_text("postgresql")
    page.close()


def test_new_job_shows_why_nothing_was_sent(stack: dict[str, Any], browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.goto(stack["web"] + "/")
    page.click("#open-new-job")
    expect(page.get_by_test_id("new-job")).to_be_visible()
    expect(page.locator("#payload")).to_have_value('{\n  "message": "hello from the observatory"\n}')
    page.fill("#payload", '{"message": ')
    page.click("#submit-job")
    expect(page.get_by_test_id("submit-result")).to_contain_text("✗ not sent: payload is not valid JSON")
    page.fill("#payload", '{"message": "hi"}')
    page.click("#submit-job")
    result = page.get_by_test_id("submit-result")
    expect(result).to_contain_text("HTTP 502")
    expect(result).to_contain_text(f"gateway unreachable at {stack['dead_gateway']}")
    page.close()


def test_the_launcher_page_works_from_a_file(stack: dict[str, Any], browser: Any) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    launcher = (ROOT / "platform" / "launcher" / "launcher.html").as_uri()
    page.goto(f"{launcher}?readModel={stack['read_model']}")
    expect(page.get_by_test_id("rm-status")).to_contain_text("the read model answers")
    expect(page.get_by_test_id("stats")).to_contain_text("total")
    uis = page.get_by_test_id("uis")
    for name in ("Web mirror", "Gateway API", "Read model API", "RabbitMQ management", "Prometheus",
                 "Alertmanager", "Grafana"):  # fmt: skip
        expect(uis).to_contain_text(name)
    expect(page.locator("body")).to_contain_text("does not mean healthy")

    page.goto(f"{launcher}?readModel={stack['dead_gateway']}")
    expect(page.get_by_test_id("rm-status")).to_contain_text("read model not reachable")
    expect(page.locator("#start-hint")).to_contain_text("observatory up")
    page.close()
