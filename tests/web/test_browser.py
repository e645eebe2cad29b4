"""The web app in headless Chromium and Firefox against a real server: import, edit, save,
run, watch; build from the palette; schedules; validation errors on the pin they name; phone
widths.

Each test saves screenshots in its tmp dir (``pytest --basetemp DIR`` keeps them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import _PAGES, CALCULATOR, Server, enter, signed_in_page

pytestmark = pytest.mark.timeout(90)


def drag(page: Any, source: Any, target: Any) -> None:
    """Drag with the mouse from the centre of one element to the centre of another."""
    a, b = source.bounding_box(), target.bounding_box()
    assert a is not None and b is not None
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move((a["x"] + b["x"]) / 2 + 5, (a["y"] + b["y"]) / 2 + 5, steps=5)
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=5)
    page.mouse.up()


def node(page: Any, block: str) -> Any:
    return page.locator(f".react-flow__node .bnode[data-block='{block}']")


needs_calculator = pytest.mark.skipif(not CALCULATOR.is_file(), reason=f"{CALCULATOR} is absent")


@needs_calculator
def test_import_edit_save_run_calculator(browser: Any, web_server: Server, tmp_path: Path) -> None:
    page = signed_in_page(browser, web_server, "web-calc")
    page.goto("/library")
    page.get_by_role("heading", name="Library").wait_for()
    page.get_by_text("No agents yet.").wait_for()
    page.locator("[data-testid=import-input]").set_input_files(str(CALCULATOR))
    page.get_by_role("link", name="Calculator agent").click()

    calc = node(page, "CalculatorBlock")
    calc.wait_for()
    assert page.locator(".react-flow__node").count() == 3
    assert page.locator(".react-flow__edge").count() == 2
    # Pins by type: the calculator's inputs and its number output.
    assert calc.locator(".pin-in[data-pin='b'] .pin-type").inner_text() == "number"
    assert calc.locator(".pin-in[data-pin='operation'] .pin-type").inner_text() == "enum"
    assert calc.locator(".pin-out[data-pin='result'] .pin-type").inner_text() == "number"

    calc.click()
    field = page.locator(".inspector [data-field='b'] input")
    assert field.input_value() == "34"
    enter(field, "8")
    # Waited for, not read at once: a browser may render the edit a frame after the event.
    page.get_by_test_id("graph-version").filter(has_text="unsaved").wait_for()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_test_id("graph-version").filter(has_text=re.compile(r"^v2$")).wait_for()

    page.get_by_role("button", name="Run", exact=True).click()
    dialog = page.get_by_role("dialog")
    enter(dialog.locator("[data-field='Input'] input"), "5")
    dialog.get_by_role("button", name="Run").click()

    runbar = page.get_by_test_id("runbar")
    runbar.locator(".badge-completed").wait_for()
    output = node(page, "AgentOutputBlock")
    page.locator(".bnode[data-block='AgentOutputBlock'][data-status='COMPLETED']").wait_for()
    assert output.get_by_test_id("node-output").inner_text().strip() == "13"
    assert calc.get_attribute("data-status") == "COMPLETED"
    assert "13" in runbar.inner_text()

    # The node's inputs and outputs of the run, on click.
    calc.click()
    inspector = page.locator(".inspector")
    inspector.get_by_role("tab", name=re.compile("Last run")).click()
    assert "8" in inspector.inner_text() and "13" in inspector.inner_text()
    page.screenshot(path=str(tmp_path / "calculator-run.png"))

    # History: the run is listed with its outputs, also at a phone's width.
    page.goto("/runs")
    page.locator(".runs-table .badge-completed").first.wait_for()
    assert "13" in page.locator(".runs-table").inner_text()
    page.screenshot(path=str(tmp_path / "runs-1280.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator(".runs-table a").first.click()
    page.get_by_role("heading", name="Node executions").wait_for()
    page.screenshot(path=str(tmp_path / "run-detail-phone.png"), full_page=True)
    page.goto("/runs")
    page.locator(".runs-table .badge-completed").first.wait_for()
    page.screenshot(path=str(tmp_path / "runs-phone.png"), full_page=True)
    assert page.page_errors == []


def test_build_two_nodes_from_palette(browser: Any, web_server: Server, tmp_path: Path) -> None:
    page = signed_in_page(browser, web_server, "web-build")
    page.goto("/build/new")
    search = page.get_by_role("searchbox", name="Search blocks")

    enter(search, "agent input")
    page.locator(".palette-item[data-block='AgentInputBlock']").click()
    enter(page.locator(".inspector [data-field='name'] input"), "text")
    enter(search, "agent output")
    page.locator(".palette-item[data-block='AgentOutputBlock']").click()
    enter(page.locator(".inspector [data-field='name'] input"), "echo")
    enter(page.locator("#graph-name"), "Echo agent")
    page.locator(".react-flow__controls-fitview").click()

    source = node(page, "AgentInputBlock").locator(
        ".react-flow__handle[data-handleid='out:result']"
    )
    target = node(page, "AgentOutputBlock").locator(".react-flow__handle[data-handleid='in:value']")
    drag(page, source, target)
    assert page.locator(".react-flow__edge").count() == 1

    # Undo removes the link, redo brings it back.
    page.get_by_role("button", name="Undo").click()
    assert page.locator(".react-flow__edge").count() == 0
    page.get_by_role("button", name="Redo").click()
    assert page.locator(".react-flow__edge").count() == 1

    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_test_id("graph-version").filter(has_text=re.compile(r"^v1$")).wait_for()
    assert re.search(r"/build/[0-9a-f-]{36}$", page.url)

    page.get_by_role("button", name="Run", exact=True).click()
    enter(page.get_by_role("dialog").locator("[data-field='text'] textarea"), "hello web")
    page.get_by_role("dialog").get_by_role("button", name="Run").click()
    out = node(page, "AgentOutputBlock")
    out.get_by_test_id("node-output").filter(has_text="hello web").wait_for()
    page.get_by_test_id("runbar").locator(".badge-completed").wait_for()
    page.screenshot(path=str(tmp_path / "two-nodes.png"))
    assert page.page_errors == []


def test_validation_error_on_the_pin(browser: Any, web_server: Server, tmp_path: Path) -> None:
    page = signed_in_page(browser, web_server, "web-invalid")
    page.goto("/build/new")
    enter(page.get_by_role("searchbox", name="Search blocks"), "agent output")
    page.locator(".palette-item[data-block='AgentOutputBlock']").click()
    page.get_by_role("button", name="Save", exact=True).click()
    # AgentOutputBlock's name is required on save: the API names the node and the pin.
    pin = node(page, "AgentOutputBlock").locator(".pin-in[data-pin='name']")
    pin.locator(".pin-error").wait_for()
    assert "name" in pin.locator(".pin-error").inner_text()
    assert (
        node(page, "AgentOutputBlock").locator(".pin-in[data-pin='value'] .pin-error").count() == 0
    )
    # ... on the input pin "name", not on the output pin of the same name.
    assert (
        node(page, "AgentOutputBlock").locator(".pin-out[data-pin='name'] .pin-error").count() == 0
    )
    assert "not saved" in page.get_by_test_id("graph-version").inner_text()
    inspector_error = page.locator(".inspector [data-field='name'] .text-error")
    assert inspector_error.count() == 1
    page.screenshot(path=str(tmp_path / "validation-error.png"))


@needs_calculator
def test_create_and_pause_a_schedule(browser: Any, web_server: Server, tmp_path: Path) -> None:
    with web_server.client("web-sched") as client:
        created = client.post("/api/graphs", json=json.loads(CALCULATOR.read_text()))
        assert created.status_code == 200, created.text
    page = signed_in_page(browser, web_server, "web-sched")
    page.goto("/schedules")
    page.get_by_text("No schedules.").wait_for()
    page.get_by_role("button", name="New schedule").click()
    form = page.get_by_role("form", name="New schedule")
    form.locator("[data-field='Input'] input").wait_for()
    enter(form.locator("input[name='schedule-name']"), "Every morning")
    form.get_by_label("Repeat").select_option("weekdays")
    form.get_by_label("Time", exact=True).fill("07:30")
    assert form.locator("input[name='cron']").input_value() == "30 7 * * 1-5"
    assert "Every weekday at 07:30." in form.inner_text()
    enter(form.locator("[data-field='Input'] input"), "2")
    form.get_by_role("button", name="Create schedule").click()

    item = page.locator(".schedule[data-schedule='Every morning']")
    item.locator(".badge-active").wait_for()
    assert "Next run:" in item.inner_text()
    item.get_by_role("button", name="Fires").click()
    item.get_by_text("It has not fired yet.").wait_for()
    assert item.locator(".schedule-details ol li").count() == 5
    item.get_by_role("button", name="Pause").click()
    item.locator(".badge-paused").wait_for()
    item.get_by_role("button", name="Resume").wait_for()
    page.screenshot(path=str(tmp_path / "schedule-paused.png"), full_page=True)
    with web_server.client("web-sched") as client:
        schedules = client.get("/api/schedules").json()["items"]
    assert [(s["name"], s["status"], s["cron"]) for s in schedules] == [
        ("Every morning", "PAUSED", "30 7 * * 1-5")
    ]


def test_sign_in_keys_and_admin(browser: Any, web_server: Server, tmp_path: Path) -> None:
    context = browser.new_context(base_url=web_server.url, viewport={"width": 1280, "height": 720})
    page = context.new_page()
    _PAGES.append(page)
    page.goto("/keys")
    page.get_by_role("heading", name="Sign in to autoplat").wait_for()
    page.screenshot(path=str(tmp_path / "sign-in.png"))
    page.get_by_label("Bearer token (JWT)").check()
    from autoplat.testing import make_token

    enter(page.get_by_label("Token", exact=True), make_token("web-admin", role="admin"))
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="API keys").wait_for()
    assert "web-admin" not in page.url and "token" not in page.url

    enter(page.get_by_role("form", name="New API key").get_by_label("Name"), "ci script")
    page.get_by_role("button", name="Create key").click()
    secret = page.get_by_test_id("new-key").inner_text()
    assert len(secret) > 20
    page.get_by_role("button", name="I have saved it").click()
    assert page.get_by_test_id("new-key").count() == 0
    assert secret not in page.content()

    page.get_by_role("link", name="Admin").click()
    page.get_by_role("heading", name="System jobs").wait_for()
    page.get_by_role("cell", name="web-admin", exact=True).wait_for()
    page.screenshot(path=str(tmp_path / "admin.png"), full_page=True)
    page.get_by_role("link", name="Credits").click()
    page.get_by_test_id("balance").wait_for()
    # The credential lives in this tab's session only.
    stored = page.evaluate("() => [sessionStorage.length, localStorage.length]")
    assert stored == [1, 0]
    context.close()
