"""Dashboard: stats, alerts, the jobs table following /stream, filters, search, reconnect, navigation."""

from __future__ import annotations

from tests.unit.tui.fakes import JOB_A, JOB_B, JOB_C, READ_MODEL, FakeObservatory, job
from tests.unit.tui.pilotkit import SIZE, screen_text, until, until_text
from tui.screens.dashboard import DashboardScreen
from tui.screens.job_detail import JobDetailScreen
from tui.widgets.jobs_table import JobsTable


async def test_dashboard_shows_stats_alerts_and_jobs_newest_first() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        text = await until_text(pilot, "bbbbbbbb")
        await until_text(pilot, "DeadLettersGrowing")
        text = await until_text(pilot, "New job")
        assert "total 11" in text and "completed 7" in text and "failed 2" in text
        assert "p50 4.2 ms" in text and "p95 18.0 ms" in text and "p99 41.5 ms" in text
        assert "dead letters 1" in text
        assert "22 events in the last 60s" in text
        assert "processor 2/2 q3" in text
        assert "Alerts (1)" in text and "[critical]" in text
        assert text.index("bbbbbbbb") < text.index("aaaaaaaa")  # newest first
        for key in ("New job", "Dead letters", "Launcher", "Search", "Refresh", "Quit", "Help"):
            assert key in text


async def test_a_job_from_the_stream_goes_on_top_and_updates_in_place() -> None:
    fake = FakeObservatory(
        stream_jobs=[
            job(JOB_C, "PENDING", "sleep", "2026-01-02T03:05:00Z"),
            job(JOB_A, "DEAD_LETTERED", "echo", "2026-01-02T03:04:05Z"),
        ]
    )
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "cccccccc")
        table = pilot.app.screen.query_one(JobsTable)
        await until(pilot, lambda: [j["status"] for j in table.jobs] == ["PENDING", "FAILED", "DEAD_LETTERED"],
                    "the stream's changes applied")  # fmt: skip
        assert [j["id"] for j in table.jobs] == [JOB_C, JOB_B, JOB_A]
        assert "● live" in screen_text(pilot)


async def test_stream_down_says_what_to_do_then_reconnects_by_itself() -> None:
    fake = FakeObservatory(fail_stream_connects=2)
    async with fake.app().run_test(size=SIZE) as pilot:
        text = await until_text(pilot, "read model unreachable at")
        assert f"{READ_MODEL} — start it with `observatory up`" in text
        assert "stale" in text
        await until_text(pilot, "● live")
        assert fake.stream_connects >= 3


async def test_status_filter_and_search_query_the_read_model() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "aaaaaaaa")
        screen = pilot.app.screen
        assert isinstance(screen, DashboardScreen)
        screen.apply_status("FAILED")
        await until(pilot, lambda: "aaaaaaaa" not in screen_text(pilot), "COMPLETED job filtered out")
        assert any(r.url.params.get("status") == "FAILED" for r in fake.requests)
        assert "status=FAILED" in screen_text(pilot)

        screen.apply_status(None)
        await pilot.press("slash")
        await pilot.press("a", "a")
        await until_text(pilot, "type at least 3 characters to search")
        await pilot.press("a")
        await until(pilot, lambda: any(r.url.params.get("q") == "aaa" for r in fake.requests), "search sent")
        await until(pilot, lambda: "bbbbbbbb" not in screen_text(pilot), "search applied")
        assert "aaaaaaaa" in screen_text(pilot)


async def test_enter_opens_the_selected_job() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, JobDetailScreen), "job screen open")
        screen = pilot.app.screen
        assert isinstance(screen, JobDetailScreen)
        assert screen.job_id == JOB_B


async def test_help_lists_the_keys() -> None:
    async with FakeObservatory().app().run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        text = await until_text(pilot, "Task Observatory — keys")
        assert "dead letters" in text and "ctrl+p" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen), "back on the dashboard")
