"""Job detail, new job, dead letters with replay, launcher, command palette — each at a fixed size."""

from __future__ import annotations

import json

from textual.widgets import TextArea

from tests.unit.tui.fakes import JOB_B, JOB_C, LETTER, FakeObservatory
from tests.unit.tui.pilotkit import SIZE, observatory, screen_text, until, until_text
from tui.screens.confirm import ConfirmScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.dead_letters import DeadLettersScreen
from tui.screens.job_detail import JobDetailScreen
from tui.screens.launcher import LauncherScreen
from tui.screens.new_job import NewJobScreen


async def test_job_detail_shows_the_merged_timeline_and_the_verdict() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_open_job(JOB_B)
        text = await until_text(pilot, "Timeline (3 entries")
        assert "✗ inconsistent: COMPLETED in PostgreSQL but no completed event in the audit trail" in text
        assert "error: COMPLETED in PostgreSQL" in text
        for store in ("postgresql", "audit", "redis"):
            assert store in text
        assert "job.submitted" in text
        assert "fail FAILED" in text and "generation 0" in text
        assert '"message": "hi"' in text  # the payload pane
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen), "back on the dashboard")


async def test_job_detail_of_an_unknown_job_says_so() -> None:
    async with FakeObservatory().app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_open_job("00000000-0000-4000-8000-000000000000")
        await until_text(pilot, "no PostgreSQL row for this job")


async def test_submit_a_valid_job_shows_the_202_and_opens_it() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        await pilot.press("n")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewJobScreen), "new job screen")
        await until_text(pilot, "payload (JSON object")
        await pilot.press("ctrl+s")
        text = await until_text(pilot, "✓ accepted")
        assert f"job {JOB_C}  status PENDING" in text and "event evt-42" in text
        assert fake.submitted == [{"type": "echo", "payload": {"message": "hello from the observatory"}}]
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(pilot.app.screen, JobDetailScreen), "accepted job opened")


async def test_submit_an_invalid_payload_shows_the_field_errors_inline() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_new_job("sleep")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewJobScreen), "new job screen")
        await until_text(pilot, "payload (JSON object")
        pilot.app.screen.query_one("#payload", TextArea).text = '{"secs": 2}'
        await pilot.press("ctrl+s")
        text = await until_text(pilot, "✗ refused: HTTP 422")
        assert "payload.seconds: 'seconds' is a required property" in text
        assert fake.submitted[-1] == {"type": "sleep", "payload": {"secs": 2}}


async def test_broken_json_is_refused_before_anything_is_sent() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_new_job()
        await until(pilot, lambda: isinstance(pilot.app.screen, NewJobScreen), "new job screen")
        await until_text(pilot, "payload (JSON object")
        pilot.app.screen.query_one("#payload", TextArea).text = '{"message": '
        await pilot.press("ctrl+s")
        text = await until_text(pilot, "✗ not sent: payload is not valid JSON")
        assert "line 1" in text
        assert fake.submitted == []


async def test_changing_the_type_swaps_an_untouched_sample_payload() -> None:
    async with FakeObservatory().app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_new_job("echo")
        await until(pilot, lambda: isinstance(pilot.app.screen, NewJobScreen), "new job screen")
        await until_text(pilot, "payload (JSON object")
        screen = pilot.app.screen
        assert isinstance(screen, NewJobScreen)
        screen.query_one("#job-type").value = "hash"  # type: ignore[attr-defined]
        editor = screen.query_one("#payload", TextArea)
        await until(pilot, lambda: json.loads(editor.text).get("algorithm") == "sha256", "hash sample shown")


async def test_replay_asks_first_then_replays() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        await pilot.press("d")
        text = await until_text(pilot, "Dead letters (1 shown")
        assert "bbbbbbbb" in text and "http://processor" in text and "500" in text
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "confirmation asked")
        assert "Replay the dead letter of job" in screen_text(pilot)
        await pilot.press("y")
        text = await until_text(pilot, "✓ replayed")
        assert "runs again as generation 1 (was FAILED; replay #1)" in text
        assert fake.replays == [(LETTER, False, "Bearer t0ken")]


async def test_replay_cancelled_changes_nothing() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_dead_letters()
        await until_text(pilot, "Dead letters (1 shown")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "confirmation asked")
        await pilot.press("n")
        await until_text(pilot, "replay cancelled; nothing changed")
        assert fake.replays == []


async def test_replay_of_a_completed_job_needs_a_second_forced_yes() -> None:
    fake = FakeObservatory(letter_status="COMPLETED")
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        observatory(pilot).action_dead_letters()
        await until_text(pilot, "Dead letters (1 shown")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "confirmation asked")
        await pilot.press("y")
        await until_text(pilot, "This job already COMPLETED. Run it again anyway")
        await pilot.press("y")
        text = await until_text(pilot, "✓ replayed (forced)")
        assert isinstance(pilot.app.screen, DeadLettersScreen)
        assert "was COMPLETED" in text
        assert [(r[0], r[1]) for r in fake.replays] == [(LETTER, False), (LETTER, True)]


async def test_launcher_lists_every_local_ui_and_is_honest_about_probes() -> None:
    async with FakeObservatory().app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "bbbbbbbb")  # the dashboard is up
        await pilot.press("l")
        await until(pilot, lambda: isinstance(pilot.app.screen, LauncherScreen), "launcher open")
        text = await until_text(pilot, "2 of 7 answer")
        for name, port in (("Web mirror", 8081), ("Gateway API", 3000), ("Read model API", 8080),
                           ("RabbitMQ management", 15672), ("Prometheus", 9090), ("Alertmanager", 9093),
                           ("Grafana", 3002)):  # fmt: skip
            assert name in text and str(port) in text
        assert "it is not a health check" in text
        assert "no: connection refused" in text


async def test_command_palette_filters_by_status() -> None:
    fake = FakeObservatory()
    async with fake.app().run_test(size=SIZE) as pilot:
        await until_text(pilot, "aaaaaaaa")  # the dashboard is up
        await pilot.press("ctrl+p")
        await pilot.press(*"status FAILED")
        await until_text(pilot, "Filter: status FAILED")
        await pilot.press("enter")
        await until(pilot, lambda: "aaaaaaaa" not in screen_text(pilot), "palette filter applied")
        assert any(r.url.params.get("status") == "FAILED" for r in fake.requests)
