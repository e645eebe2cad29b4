"""The web app's credentials and reviews in headless Chromium and Firefox against a real
server: add credentials (the secret is never shown again) and delete one; run an LLM agent
choosing the user's OpenAI key in the run form's picker (an OpenAI stand-in answers), and
schedule it with a key picked in the schedule form (kept by the schedule, no preset made);
approve a pending review with edited data and see the run complete, also at a phone's width.

Each test saves screenshots in its tmp dir (``pytest --basetemp DIR`` keeps them).
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from autoplat.blocks.builtin.review import HumanInTheLoopBlock
from tests.support import graphs as tk
from tests.support.graphs import input_node, link, node, output_node
from tests.web.conftest import Server, StandIns, enter, signed_in_page

pytestmark = pytest.mark.timeout(90)

AI_TEXT = "1f292d4a-41a4-4977-9684-7c8d560b9f91"  # AITextGeneratorBlock


def _create_graph(server: Server, user: str, g: Any) -> dict[str, Any]:
    with server.client(user) as client:
        answer = client.post("/api/graphs", json={"graph": g.model_dump(mode="json")})
        assert answer.status_code == 200, answer.text
        graph: dict[str, Any] = answer.json()
        return graph


def _wait_run(server: Server, user: str, graph_id: str, run_id: str, status: str) -> Any:
    deadline = time.monotonic() + 30
    with server.client(user) as client:
        while time.monotonic() < deadline:
            run = client.get(f"/api/graphs/{graph_id}/executions/{run_id}").json()
            if run["status"] == status:
                return run
            time.sleep(0.1)
    raise AssertionError(f"run {run_id} never reached {status} (last {run['status']})")


def test_add_credentials_listed_without_their_secret(
    browser: Any, web_server: Server, tmp_path: Path
) -> None:
    secret = "sk-web-very-secret-0123456789"
    page = signed_in_page(browser, web_server, "web-creds")
    page.goto("/credentials")
    page.get_by_role("heading", name="Credentials", exact=True).wait_for()
    page.get_by_text("No credentials yet.").wait_for()
    form = page.get_by_role("form", name="Add a credential")

    form.get_by_label("Provider").select_option("openai")
    key = form.get_by_label("API key")
    assert key.get_attribute("type") == "password"
    enter(form.get_by_label("Title (optional)"), "My OpenAI key")
    enter(key, secret)
    form.get_by_label("Expires (optional)").fill("2030-01-31")
    form.get_by_role("button", name="Save credential").click()
    row = page.locator(".credentials-table tr", has_text="My OpenAI key")
    row.wait_for()
    assert "OpenAI" in row.inner_text() and "API key" in row.inner_text()
    assert "expires" in row.inner_text() and "2030" in row.inner_text()
    assert key.input_value() == ""  # the secret leaves the form once saved

    # Headers for one host: every value is a password field.
    form.get_by_label("Provider").select_option("http")
    enter(form.get_by_label("Title (optional)"), "Example API")
    enter(form.get_by_label("Host", exact=True), "api.example.com")
    value = form.get_by_label("Header 1 value")
    assert value.get_attribute("type") == "password"
    enter(value, "Bearer hs-secret-value")
    form.get_by_role("button", name="Save credential").click()
    page.locator(".credentials-table tr", has_text="Example API").wait_for()
    assert "host api.example.com" in page.locator(".credentials-table").inner_text()

    # A user name and password.
    form.get_by_label("Provider").select_option("smtp")
    enter(form.get_by_label("User name", exact=True), "mailer")
    enter(form.get_by_label("Password", exact=True), "pw-secret-42")
    form.get_by_role("button", name="Save credential").click()
    page.locator(".credentials-table tbody tr").nth(2).wait_for()

    content = page.content()
    for text in (secret, "hs-secret-value", "pw-secret-42"):
        assert text not in content
    page.screenshot(path=str(tmp_path / "credentials-1280.png"), full_page=True)

    # A fresh load shows the same metadata, still without a secret.
    page.reload()
    page.locator(".credentials-table tr", has_text="My OpenAI key").wait_for()
    assert secret not in page.content()
    page.on("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("^Delete Example API")).click()
    page.locator(".credentials-table tr", has_text="Example API").wait_for(state="detached")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "credentials-phone.png"), full_page=True)

    with web_server.client("web-creds") as client:
        items = client.get("/api/integrations/credentials").json()["items"]
    own = sorted((c["provider"], c["type"], c["title"]) for c in items if not c["is_system"])
    assert own == [("openai", "api_key", "My OpenAI key"), ("smtp", "user_password", None)]
    assert page.page_errors == []


def test_run_an_llm_agent_with_a_credential_picked_in_the_run_form(
    browser: Any, web_server: Server, stand_ins: StandIns, tmp_path: Path
) -> None:
    user = "web-picker"
    topic = input_node("topic")
    writer = node(AI_TEXT, model="gpt-4o-mini", retry=1)
    answer = output_node("answer")
    graph = _create_graph(
        web_server,
        user,
        tk.graph(
            [topic, writer, answer],
            [link(topic, "result", writer, "prompt"), link(writer, "response", answer, "value")],
            name="Writer agent",
        ),
    )
    with web_server.client(user) as client:
        for provider, title, key in [
            ("openai", "Work OpenAI", "sk-web-work"),
            ("openai", "Home OpenAI", "sk-web-home"),
            ("anthropic", "My Claude", "sk-ant-web"),
        ]:
            body = {"type": "api_key", "title": title, "api_key": key}
            made = client.post(f"/api/integrations/{provider}/credentials", json=body)
            assert made.status_code == 201, made.text

    page = signed_in_page(browser, web_server, user)
    page.goto(f"/build/{graph['id']}")
    page.locator(".react-flow__node").nth(2).wait_for()
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog")
    enter(
        dialog.locator("[data-field='topic'] textarea, [data-field='topic'] input").first,
        "Say hello",
    )
    picker = dialog.locator(".credentials-inputs select")
    picker.locator("option", has_text="Work OpenAI").wait_for(state="attached")
    # Only the OpenAI keys fit: the model is OpenAI's and the pin takes API keys.
    labels = picker.locator("option").all_inner_texts()
    assert any("Home OpenAI" in t for t in labels)
    assert not any("My Claude" in t for t in labels)
    picker.select_option(label="Work OpenAI")
    page.screenshot(path=str(tmp_path / "run-form-credentials.png"))
    seen = len(stand_ins.llm.requests)
    dialog.get_by_role("button", name="Run").click()

    page.get_by_test_id("runbar").locator(".badge-completed").wait_for(timeout=30_000)
    output = page.locator(".bnode[data-block='AgentOutputBlock']").get_by_test_id("node-output")
    assert "Hello from the stand-in" in output.inner_text()
    page.screenshot(path=str(tmp_path / "llm-run.png"))
    calls = stand_ins.llm.requests[seen:]
    assert calls and all(c["_authorization"] == "Bearer sk-web-work" for c in calls)
    with web_server.client(user) as client:
        [run] = client.get(f"/api/graphs/{graph['id']}/executions").json()["items"]
    assert run["status"] == "COMPLETED"

    # Unsaved changes: the form asks for the canvas's credentials, saves, then runs.
    page.get_by_role("button", name="Hide the run").click()
    page.locator(".bnode[data-block='AITextGeneratorBlock'] .bnode-head").click()
    page.locator(".inspector").get_by_role("tab", name="Inputs").click()
    page.locator(".inspector [data-field='model'] select").select_option("gpt-4o")
    # The node's own credentials pin is a picker too (of the model's provider).
    own = page.locator(".inspector [data-credentials='credentials'] select")
    own.locator("option", has_text="Home OpenAI").wait_for(state="attached")
    assert not any("My Claude" in t for t in own.locator("option").all_inner_texts())
    page.locator(".inspector [data-field='model'] select").select_option("claude-sonnet-4-20250514")
    own.locator("option", has_text="My Claude").wait_for(state="attached")
    page.screenshot(path=str(tmp_path / "inspector-credentials.png"))
    assert not any("OpenAI" in t for t in own.locator("option").all_inner_texts())
    page.locator(".inspector [data-field='model'] select").select_option("gpt-4o")
    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog")
    enter(
        dialog.locator("[data-field='topic'] textarea, [data-field='topic'] input").first, "Again"
    )
    picker = dialog.locator(".credentials-inputs select")
    picker.locator("option", has_text="Home OpenAI").wait_for(state="attached")
    picker.select_option(label="Home OpenAI")
    seen = len(stand_ins.llm.requests)
    dialog.get_by_role("button", name="Save and run").click()
    page.get_by_test_id("graph-version").filter(has_text=re.compile(r"^v2$")).wait_for()
    page.get_by_test_id("runbar").locator(".badge-completed").wait_for(timeout=30_000)
    calls = stand_ins.llm.requests[seen:]
    assert calls and all(c["_authorization"] == "Bearer sk-web-home" for c in calls)
    assert page.page_errors == []


def test_schedule_an_llm_agent_with_a_credential_picked_in_the_schedule_form(
    browser: Any, web_server: Server, stand_ins: StandIns, tmp_path: Path
) -> None:
    user = "web-sched-creds"
    topic = input_node("topic")
    writer = node(AI_TEXT, model="gpt-4o-mini", retry=1)
    answer = output_node("answer")
    graph = _create_graph(
        web_server,
        user,
        tk.graph(
            [topic, writer, answer],
            [link(topic, "result", writer, "prompt"), link(writer, "response", answer, "value")],
            name="Scheduled writer",
        ),
    )
    ids: dict[str, str] = {}
    with web_server.client(user) as client:
        for title, key in [("Work OpenAI", "sk-sched-work"), ("Home OpenAI", "sk-sched-home")]:
            body = {"type": "api_key", "title": title, "api_key": key}
            made = client.post("/api/integrations/openai/credentials", json=body)
            assert made.status_code == 201, made.text
            ids[title] = made.json()["id"]

    page = signed_in_page(browser, web_server, user)
    page.goto(f"/schedules?graph={graph['id']}")
    form = page.get_by_role("form", name="New schedule")
    enter(form.locator("input[name='schedule-name']"), "Every second")
    enter(form.locator("input[name='cron']"), "* * * * * *")
    enter(form.locator("[data-field='topic'] textarea, [data-field='topic'] input").first, "Hi")
    picker = form.locator(".credentials-inputs select")
    picker.locator("option", has_text="Home OpenAI").wait_for(state="attached")
    # Two keys fit, so none is chosen for the user.
    assert picker.input_value() == ""
    picker.select_option(label="Home OpenAI")
    page.screenshot(path=str(tmp_path / "schedule-form-credentials.png"), full_page=True)
    seen = len(stand_ins.llm.requests)
    form.get_by_role("button", name="Create schedule").click()

    item = page.locator(".schedule[data-schedule='Every second']")
    item.locator(".badge-active").wait_for()
    # A fire runs the agent with the picked key (the stand-in sees its bearer token).
    deadline = time.monotonic() + 30
    while not stand_ins.llm.requests[seen:] and time.monotonic() < deadline:
        time.sleep(0.2)
    item.get_by_role("button", name="Pause").click()
    item.locator(".badge-paused").wait_for()
    calls = stand_ins.llm.requests[seen:]
    assert calls and all(c["_authorization"] == "Bearer sk-sched-home" for c in calls)
    assert "sk-sched" not in page.content()
    with web_server.client(user) as client:
        [schedule] = client.get("/api/schedules").json()["items"]
        presets = client.get("/api/library/presets").json()["items"]
        runs = client.get(f"/api/graphs/{graph['id']}/executions").json()["items"]
    assert schedule["status"] == "PAUSED" and schedule["inputs"] == {"topic": "Hi"}
    # The schedule keeps the picked key itself: no preset was made behind the user's back.
    assert schedule["preset_id"] is None and presets == []
    [ref] = schedule["credentials"].values()
    assert ref["id"] == ids["Home OpenAI"] and ref["title"] == "Home OpenAI"
    assert runs and _wait_run(web_server, user, graph["id"], runs[-1]["id"], "COMPLETED")
    assert page.page_errors == []


def test_approve_a_pending_review_with_edited_data(
    browser: Any, web_server: Server, tmp_path: Path
) -> None:
    user = "web-review"
    given = input_node("profile")
    review = node(HumanInTheLoopBlock.id, name="User profile")
    approved, said = output_node("approved"), output_node("said")
    graph = _create_graph(
        web_server,
        user,
        tk.graph(
            [given, review, approved, said],
            [
                link(given, "result", review, "data"),
                link(review, "approved_data", approved, "value"),
                link(review, "review_message", said, "value"),
            ],
            name="Reviewed agent",
        ),
    )
    with web_server.client(user) as client:
        url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"
        started = client.post(url, json={"inputs": {"profile": {"name": "John", "age": 30}}})
        assert started.status_code == 200, started.text
    run_id = started.json()["id"]
    _wait_run(web_server, user, graph["id"], run_id, "REVIEW")

    page = signed_in_page(browser, web_server, user)
    # On the canvas: the paused node, and the run bar's way to the review.
    page.goto(f"/build/{graph['id']}?exec={run_id}")
    page.locator(".bnode[data-block='HumanInTheLoopBlock'][data-status='REVIEW']").wait_for()
    runbar = page.get_by_test_id("runbar")
    runbar.get_by_test_id("review-notice").get_by_role("link", name="Review now").wait_for()
    page.screenshot(path=str(tmp_path / "canvas-in-review.png"))
    page.goto(f"/runs/{graph['id']}/{run_id}")
    notice = page.get_by_test_id("review-notice")
    notice.wait_for()
    assert page.locator(".page-head .badge-review").count() == 1
    page.screenshot(path=str(tmp_path / "run-in-review.png"))
    notice.get_by_role("link", name="Review now").click()
    page.get_by_role("heading", name="Reviews").wait_for()
    assert "/reviews?run=" in page.url

    card = page.locator(".review", has_text="User profile")
    data = card.get_by_label(re.compile("^Data"))
    data.wait_for()
    assert '"age": 30' in data.input_value()
    page.screenshot(path=str(tmp_path / "reviews-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "reviews-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 720})

    enter(data, '{"name": "John", "age": 3')
    card.get_by_role("alert").filter(has_text="Not valid JSON").wait_for()
    assert card.get_by_role("button", name=re.compile("^Approve")).is_disabled()
    enter(data, '{"name": "John", "age": 31}')
    enter(card.get_by_label("Message (optional)"), "fixed the age")
    card.get_by_role("button", name="Approve with edits").click()

    decided = page.get_by_role("list", name="Decided reviews")
    decided.get_by_text("The run resumes.").wait_for()
    page.get_by_text("Nothing waits for your review.").or_(
        page.get_by_text("This run has no review waiting.")
    ).wait_for()
    decided.get_by_role("link", name="View the run").click()
    page.locator(".page-head .badge-completed").wait_for(timeout=30_000)
    assert page.get_by_test_id("review-notice").count() == 0
    assert '"age": 31' in page.locator(".card").first.inner_text()
    decided_reviews = page.locator(".card", has_text="Human reviews")
    decided_reviews.locator(".badge-approved").wait_for()
    assert "fixed the age" in decided_reviews.inner_text()
    page.screenshot(path=str(tmp_path / "run-after-review.png"), full_page=True)

    run = _wait_run(web_server, user, graph["id"], run_id, "COMPLETED")
    assert run["outputs"] == {"approved": [{"name": "John", "age": 31}], "said": ["fixed the age"]}
    assert page.page_errors == []


def test_connect_an_oauth_provider(
    browser: Any, web_server: Server, stand_ins: StandIns, tmp_path: Path
) -> None:
    page = signed_in_page(browser, web_server, "web-oauth")
    page.goto("/credentials")
    form = page.get_by_role("form", name="Add a credential")
    form.get_by_label("Provider").select_option("github")
    form.get_by_label("Kind").select_option("oauth2")
    enter(form.get_by_label("Title (optional)"), "My GitHub")
    form.get_by_role("button", name="Connect GitHub").click()

    # The stand-in provider grants at once and sends the browser back to the callback page.
    page.get_by_role("heading", name="Connected").wait_for()
    assert page.url.endswith("/auth/integrations/oauth_callback")  # the code left the URL
    assert "My GitHub" in page.locator("[role=status]").inner_text()
    page.screenshot(path=str(tmp_path / "oauth-connected.png"))
    page.get_by_role("link", name="Back to credentials").click()
    row = page.locator(".credentials-table tr", has_text="My GitHub")
    row.wait_for()
    assert "OAuth connection" in row.inner_text()
    content = page.content()
    assert stand_ins.oauth.issued and not any(token in content for token in stand_ins.oauth.issued)

    # Coming back to the callback address again finishes nothing twice.
    page.goto("/auth/integrations/oauth_callback?code=old&state=unknown")
    page.get_by_text("not started in this browser tab").wait_for()
    with web_server.client("web-oauth") as client:
        items = client.get("/api/integrations/credentials").json()["items"]
    assert [(c["provider"], c["type"]) for c in items if not c["is_system"]] == [
        ("github", "oauth2")
    ]
    assert page.page_errors == []
