"""The playground end to end, in a real headless browser (Debian's chromium via Playwright).

The page's numbers are compared with `handgrad solve --format json` run as a separate process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import tomllib

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not shutil.which("chromium"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from handgrad.problem import default_problem_path  # noqa: E402
from handgrad.serve.api import create_app, encode_state, server_for  # noqa: E402

SEED = tomllib.loads(default_problem_path().read_text(encoding="utf-8"))


@contextlib.contextmanager
def _serving(app):
    """`app` on a free loopback port, in a thread, as `handgrad serve` runs it (the same
    uvicorn settings); yields its address."""
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    running = server_for(app)
    thread = threading.Thread(target=running.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    for _ in range(200):
        if running.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        running.should_exit = True
        thread.join(timeout=10)
        listening.close()


@pytest.fixture(scope="module")
def server():
    with _serving(create_app()) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    _watch_console(opened, errors)
    opened.goto(server)
    opened.wait_for_selector("body[data-ready=true]", timeout=20_000)
    yield opened
    context.close()
    assert not errors, errors


def _watch_console(page, errors: list[str]) -> None:
    """Collect what the console says about refused loads: the server's Content-Security-Policy
    must let the page (its modules, styles, KaTeX's fonts) load in full."""
    def seen(message) -> None:
        # (a 4xx answer the page shows is logged as an error too: that one is expected)
        if "Content Security Policy" in message.text or message.text.startswith("Refused"):
            errors.append(message.text)

    page.on("console", seen)


def _solve_cli(document, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(document))
    done = subprocess.run([sys.executable, "-m", "handgrad", "solve", str(path), "-f", "json"],
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _shown(page):
    """Every quantity the solution panel shows: (section, key) -> value."""
    found = page.eval_on_selector_all(
        ".quantity", "els => els.map(e => [e.dataset.section, e.dataset.key, e.dataset.value])")
    return {(s, k): json.loads(v) for s, k, v in found}


def test_the_page_shows_the_command_lines_values(page, tmp_path):
    cli = _solve_cli(SEED, tmp_path)
    shown = _shown(page)
    for section in ("forward", "backward", "update"):
        for key, value in cli[section].items():
            assert shown[(section, key)] == value, (section, key)  # JSON floats round-trip
    # the drawing carries the same numbers, to the command line's 6 digits
    assert page.text_content("#net .node.layer1[data-k='1'] .value") == "2"
    assert page.text_content("#net .node.layer2[data-k='2'] .value") == "0.721399"
    katex = page.text_content(".quantity[data-key='h1']")
    assert "−13" in katex or "-13" in katex


def test_editing_a_weight_resolves_correctly_and_bad_input_is_marked(page, tmp_path):
    page.click("#tab-edit")
    cell = page.locator("input[aria-label='W1[2,2]']")
    cell.fill("3")
    cell.press("Enter")
    cell.blur()
    edited = json.loads(json.dumps(SEED))
    edited["params"]["W1"][1][1] = 3
    cli = _solve_cli(edited, tmp_path)
    page.wait_for_function(  # the server has answered: h1 changed
        "v => JSON.stringify(JSON.parse(document.querySelector(\".quantity[data-key='h1']\")"
        ".dataset.value)) === JSON.stringify(v)", arg=cli["forward"]["h1"])
    assert _shown(page)[("forward", "h1")] == cli["forward"]["h1"]
    assert _shown(page)[("backward", "dW1")] == cli["backward"]["dW1"]

    epsilon = page.locator("#edit-loss-label_smoothing")
    epsilon.fill("2")
    epsilon.blur()
    error = page.locator("#edit-loss-label_smoothing + .inline-error")
    error.wait_for(state="visible")
    page.wait_for_function("() => document.querySelector('#edit-loss-label_smoothing')"
                           ".classList.contains('invalid')")
    assert "ε must be between 0 and 1" in error.text_content()
    # the last valid state stays on screen
    assert _shown(page)[("forward", "h1")] == cli["forward"]["h1"]


def test_a_step_lowers_the_loss_and_the_url_reproduces_the_state(page, browser):
    before = float(page.text_content("#loss-now").split("=")[1].split()[0])
    page.click("#step")
    page.wait_for_function("() => document.querySelector('#loss-now').textContent"
                           ".includes('after 1 step')")
    after = float(page.text_content("#loss-now").split("=")[1].split()[0])
    assert after < before
    url = page.url
    assert "#p=" in url
    state = _shown(page)
    other = browser.new_page()
    other.goto(url)
    other.wait_for_selector("body[data-ready=true]", timeout=20_000)
    assert _shown(other) == state
    other.close()


def test_grading_a_wrong_answer_marks_the_first_wrong_step(page, tmp_path):
    cli = _solve_cli(SEED, tmp_path)
    dz = [-v for v in cli["backward"]["dz"]]
    answer = "[forward]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in cli["forward"].items())
    answer += f"[backward]\ndz = {json.dumps(dz)}\n"
    page.click("#tab-grade")
    page.fill("#answer", answer)
    page.click("#grade")
    page.wait_for_selector("#first-wrong")
    assert "backward.dz" in page.text_content("#first-wrong")
    assert "dz_sign" in page.text_content("#first-wrong")
    assert "6 correct" in page.text_content("#grade-summary")
    assert page.locator(".quantity.wrong[data-key='dz']").count() == 1
    assert page.locator("#net .node.wrong").count() == 3  # the output layer


def _page_statuses(page):
    """The grade table's verdicts: (section, name) -> status."""
    rows = page.eval_on_selector_all(
        "#grade-result tr[data-key]",
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].className])")
    return {tuple(name.split(".", 1)): cls.removeprefix("status-") for name, cls in rows}


def test_the_answer_form_grades_and_downloads_what_the_cli_grades(page, tmp_path):
    cli = _solve_cli(SEED, tmp_path)
    h1 = cli["forward"]["h1"]
    dz = [-v for v in cli["backward"]["dz"]]  # a sign slip in dL/dz
    page.click("#tab-grade")
    assert page.locator("#answer-form input[data-grid='forward.ys']").count() == 0  # not asked
    assert page.locator("#answer-form input[data-grid='backward.dW2']").count() == 9
    assert "text box" in page.text_content("#answer-source")
    # h1 typed cell by cell, Tab moving on in reading order (into a1 after the last cell)
    page.focus("input[data-grid='forward.h1'][data-c='0']")
    for value in h1:
        page.keyboard.type(repr(value))
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.grid") == "forward.a1"
    # dz pasted as one row into its first cell
    page.eval_on_selector("input[data-grid='backward.dz'][data-c='0']", """(cell, text) => {
        const data = new DataTransfer(); data.setData("text/plain", text);
        cell.dispatchEvent(new ClipboardEvent("paste", {clipboardData: data, bubbles: true,
                                                        cancelable: true}));
    }""", ", ".join(repr(v) for v in dz))
    assert [page.input_value(f"input[data-grid='backward.dz'][data-c='{c}']")
            for c in range(3)] == [repr(v) for v in dz]
    assert "the form (6 cells filled)" in page.text_content("#answer-source")
    page.click("#grade")
    page.wait_for_selector("#first-wrong")
    assert "backward.dz" in page.text_content("#first-wrong")
    assert "dz_sign" in page.text_content("#first-wrong")
    shown = _page_statuses(page)
    assert shown[("forward", "h1")] == "correct" and shown[("backward", "dz")] == "wrong"
    # the downloaded file is the answer handgrad grade reads, and it grades the same
    with page.expect_download() as download_info:
        page.click("#download-answer")
    download = download_info.value
    assert download.suggested_filename == "answer.toml"
    path = tmp_path / "answer.toml"
    download.save_as(path)
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    assert written == {"forward": {"h1": h1}, "backward": {"dz": dz}}
    done = subprocess.run([sys.executable, "-m", "handgrad", "grade", "homework3", str(path),
                           "-f", "json"], capture_output=True, text=True)
    report = json.loads(done.stdout)
    assert report["first_wrong"] == "dz"
    assert {(i["section"], i["name"]): i["status"] for i in report["items"]} == shown
    # half a quantity is refused by name, before the server is asked
    page.fill("input[data-grid='update.W2'][data-r='1'][data-c='1']", "3")
    page.click("#download-answer")
    assert "update.W2: 8 of its 9 cells are blank" in page.text_content("#form-message")
    page.click("#clear-form")
    assert "text box" in page.text_content("#answer-source")


def test_the_template_asks_before_replacing_a_typed_answer(page):
    page.click("#tab-grade")
    page.click("#fill-answer")  # an empty box: filled at once
    assert "# h1 = ..." in page.input_value("#answer")
    page.fill("#answer", "[forward]\nh1 = [1, 2, 3]\n")
    page.click("#fill-answer")
    assert page.is_visible("#replace-confirm")
    page.click("#replace-no")
    assert page.is_hidden("#replace-confirm")
    assert page.input_value("#answer") == "[forward]\nh1 = [1, 2, 3]\n"
    page.click("#fill-answer")
    page.click("#replace-yes")
    assert "# h1 = ..." in page.input_value("#answer")


def test_the_answer_form_fits_a_phone(browser, server):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(server)
    phone.wait_for_selector("body[data-ready=true]", timeout=20_000)
    phone.click("#tab-grade")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()


def test_backward_view_hover_and_keyboard(page):
    page.check("input[value=backward]")
    assert page.text_content("#net .node.layer2[data-k='0'] .name") == "∂z[1]"
    page.hover("#net .node.layer1[data-k='1']")
    tooltip = page.locator("#tooltip")
    tooltip.wait_for(state="visible")
    # the server's formula, and ∂L/∂h1[2] of `handgrad solve` (0.17357422...)
    assert "∂L/∂h1 = ∂L/∂a1 ⊙ 1[h1 > 0]; ∂L/∂h1[2] = 0.173574" in _tip_lines(page)
    page.focus("#net .node.layer0[data-k='0']")
    assert "given" in page.text_content("#tooltip")
    page.focus("#tab-solution")
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-derivation", "aria-selected") == "true"


def _tip_lines(page):
    """The plain text of each line of the tooltip (its KaTeX is for the eye)."""
    return page.eval_on_selector_all("#tooltip .line", "els => els.map(e => e.dataset.text)")


def _load_example(page, title, layers):
    page.select_option("#examples", label=title)
    page.wait_for_function("t => document.querySelector('#summary').textContent.includes(t)",
                           arg=" → ".join(map(str, layers)))


def test_an_edge_shows_the_update_the_server_made_over_all_steps(page, tmp_path):
    """deep_batch takes 2 steps: the edge W1[3,3] (out_in: input 3 to hidden unit 3) shows the
    server's formula and where the 2 steps end, not w − η·g of one step with that end."""
    deep_batch = tomllib.loads(
        default_problem_path().with_name("deep_batch.toml").read_text(encoding="utf-8"))
    cli = _solve_cli(deep_batch, tmp_path)
    _load_example(page, deep_batch["title"], deep_batch["network"]["layers"])
    page.check("input[value=backward]")
    page.focus("#net .edge.layer1[data-i='2'][data-j='2']")
    gradient, after = cli["backward"]["dW1"][2][2], cli["update"]["W1"][2][2]
    # one step of w − η·g reaches 1 − 0.5·(−0.128887) = 1.06444, far from where 2 steps end
    assert abs((1 - 0.5 * gradient) - after) > 0.5
    shown = page.text_content("#tooltip")  # KaTeX's text: what a reader sees
    assert "applied 2 times" in shown and f"{after:.6g}" in shown
    assert _tip_lines(page) == [
        f"∂L/∂W1 = (∂L/∂H1)ᵀ X; ∂L/∂W1[3,3] = {gradient:.6g}",
        f"W1 ← W1 − η ∂L/∂W1, applied 2 times; W1[3,3]: 1 → {after:.6g}"]


def test_a_frozen_weight_says_so(browser, server, tmp_path):
    frozen = json.loads(json.dumps(SEED))
    frozen["optimizer"]["frozen"] = ["W1"]
    cli = _solve_cli(frozen, tmp_path)
    page = browser.new_page()
    page.goto(server + "#p=" + encode_state(frozen))
    page.wait_for_selector("body[data-ready=true]", timeout=20_000)
    page.focus("#net .edge.layer1[data-i='1'][data-j='1']")
    gradient = cli["backward"]["dW1"][1][1]
    assert gradient != 0 and cli["update"]["W1"][1][1] == 2
    assert "frozen" in page.text_content("#tooltip")  # not 2 − 0.1·(0.347148) = 2
    assert _tip_lines(page) == [f"∂L/∂W1 = x (∂L/∂h1)ᵀ; ∂L/∂W1[2,2] = {gradient:.6g}",
                                "W1 ← W1 (frozen); W1[2,2]: 2 → 2"]
    page.close()


def test_the_menus_come_from_the_server_and_labels_stay_labels(page):
    page.click("#tab-edit")
    options = page.eval_on_selector_all(
        "#edit-network-activation option", "els => els.map(e => [e.value, e.textContent])")
    assert options == [["relu", "ReLU"], ["leaky_relu", "leaky ReLU"], ["sigmoid", "sigmoid"],
                       ["tanh", "tanh"], ["identity", "identity"]]
    page.select_option("#edit-network-activation", "tanh")
    page.wait_for_function("() => document.querySelector('#summary').textContent"
                           ".includes('· tanh ·')")
    _load_example(page, "Two hidden layers, a batch of three", [3, 4, 3, 2])
    assert page.input_value("#edit-data-label") == "0,1,1"


def test_phone_width_has_no_horizontal_scroll(browser, server):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(server)
    phone.wait_for_selector("body[data-ready=true]", timeout=20_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()


def test_print_shows_the_network_and_solution_without_controls(page):
    page.emulate_media(media="print")
    assert page.is_hidden("#step") and page.is_hidden("[role=tablist]")
    assert page.is_visible("#net") and page.is_visible(".quantity[data-key='dW1']")
    assert page.is_hidden("#loss-curve")  # nothing stepped yet: no empty curve on paper


def test_reset_during_play_is_not_undone_by_a_step_in_flight(browser):
    """A step answered after Reset belongs to the old state and is dropped."""
    app = create_app()

    async def slow_steps(scope, receive, send):
        if scope["type"] == "http" and scope["path"] == "/api/step":
            await asyncio.sleep(0.8)  # the server's answer arrives after the Reset
        await app(scope, receive, send)

    with _serving(slow_steps) as address:
        page = browser.new_page()
        page.goto(address)
        page.wait_for_selector("body[data-ready=true]", timeout=20_000)
        page.click("#play")
        page.wait_for_timeout(500)  # the first step is on its way
        page.click("#reset")
        page.wait_for_timeout(1500)
        assert "after 0 steps" in page.text_content("#loss-now")
        assert page.get_attribute("#play", "aria-pressed") == "false"
        page.close()


# --- the playground's polish (issue 14): what a test can see --------------------------------

WIDE = {"title": "Wide and tiny", "network": {"layers": [2, 12, 3], "seed": 1},
        "data": {"x": [0.000245, -0.416], "label": 0}, "optimizer": {"learning_rate": 0.1}}


def _open(browser, server, width, height, document=None):
    """A page at the given viewport, on `document` (default: the seed) carried in the URL."""
    opened = browser.new_page(viewport={"width": width, "height": height})
    opened.goto(server + ("#p=" + encode_state(document) if document else ""))
    opened.wait_for_selector("body[data-ready=true]", timeout=20_000)
    return opened


def _cli_digits() -> int:
    """The command line's default number of significant digits (`handgrad solve --digits`)."""
    from handgrad.cli.solving import solve

    return next(p.default for p in solve.params if p.name == "digits")


def _cli_number(value) -> str:
    """A number as `handgrad solve` writes it by default."""
    from handgrad.render.numbers import format_number

    return format_number(value, _cli_digits())


@pytest.mark.parametrize("width,height", [(1400, 900), (390, 844)])
def test_no_formula_scrolls_up_and_down(browser, server, width, height):
    for document in (None, WIDE):
        opened = _open(browser, server, width, height, document)
        boxes = opened.eval_on_selector_all(".quantity", """els => els.map(e => ({
            key: e.dataset.key, overflowY: getComputedStyle(e).overflowY,
            overflowX: getComputedStyle(e).overflowX,
            scrollHeight: e.scrollHeight, clientHeight: e.clientHeight,
            scrollWidth: e.scrollWidth, clientWidth: e.clientWidth}))""")
        assert len(boxes) > 10
        for box in boxes:
            # no vertical scrollbar, and nothing cut off for want of one
            assert box["overflowY"] not in ("auto", "scroll"), box
            assert box["scrollHeight"] <= box["clientHeight"], box
            assert box["overflowX"] == "auto", box  # a wide formula may scroll sideways
        if document is WIDE and width == 390:
            # W2 (12×3) fits, the 12 columns of ∂L/∂W1 do not: that one scrolls, sideways only
            assert any(b["scrollWidth"] > b["clientWidth"] for b in boxes), boxes
        assert opened.evaluate("document.documentElement.scrollWidth") <= width
        opened.close()


def _labels_outside_their_circles(page):
    """Each neuron label (its name, its value) whose box is not inside its circle."""
    return page.eval_on_selector_all("#net .node", """nodes => nodes.flatMap(g => {
        const c = g.querySelector("circle");
        const cx = +c.getAttribute("cx"), cy = +c.getAttribute("cy"), r = +c.getAttribute("r");
        return [...g.querySelectorAll("text.name, text.value")].filter(t => {
            const b = t.getBBox();
            return ![[b.x, b.y], [b.x + b.width, b.y], [b.x, b.y + b.height],
                     [b.x + b.width, b.y + b.height]]
                .every(([x, y]) => Math.hypot(x - cx, y - cy) <= r);
        }).map(t => `${g.dataset.layer}/${g.dataset.k} ${t.textContent}`);
    })""")


@pytest.mark.parametrize("width,height", [(1400, 900), (390, 844)])
def test_every_neuron_label_stays_inside_its_circle(browser, server, tmp_path, width, height):
    cli = _solve_cli(WIDE, tmp_path)
    opened = _open(browser, server, width, height, WIDE)
    for view in ("forward", "backward"):
        opened.check(f"input[value={view}]")
        assert opened.locator("#net .node text.value").count() == 17
        assert _labels_outside_their_circles(opened) == []
    # 0.000245 and −0.416 (the issue's) are in full; a longer value is rounded to fit, and the
    # full value, as the command line writes it, is the tooltip's
    opened.check("input[value=forward]")
    assert opened.text_content("#net .node.layer0[data-k='0'] .value") == "0.000245"
    assert opened.text_content("#net .node.layer0[data-k='1'] .value") == "-0.416"
    for k, value in enumerate(cli["forward"]["yhat"]):
        node = f"#net .node.layer2[data-k='{k}']"
        full = _cli_number(value)
        assert opened.get_attribute(f"{node} .value", "data-full") == full
        shown = opened.text_content(f"{node} .value")
        assert full.startswith(shown.rstrip("0123456789")) and len(shown) <= len(full)
        assert abs(float(shown) - value) <= 0.5 * 10 ** -(len(shown.split(".")[-1]))
        opened.focus(node)
        assert f"ŷ[{k + 1}] = {full}" in _tip_lines(opened)[1]
    opened.close()


def test_one_digits_setting_the_command_lines(page, tmp_path):
    digits = _cli_digits()
    assert digits == 6
    cli = _solve_cli(SEED, tmp_path)
    assert f"{digits} significant digits" in page.text_content("#digits-note")
    yhat = [_cli_number(v) for v in cli["forward"]["yhat"]]  # 0.265388, 0.0132129, 0.721399
    assert yhat[0] == "0.265388"
    panel = page.text_content(".quantity[data-key='yhat'] .katex-mathml")  # KaTeX's own text
    drawing = [page.text_content(f"#net .node.layer2[data-k='{k}'] .value") for k in range(3)]
    for k, text in enumerate(yhat):
        assert text in panel
        page.focus(f"#net .node.layer2[data-k='{k}']")
        assert _tip_lines(page)[1].endswith(f"ŷ[{k + 1}] = {text}")
    assert drawing[0] == yhat[0] and drawing[2] == yhat[2]  # these fit their circles
    before, after = (_cli_number(v) for v in (cli["history"][0], cli["history"][-1]))
    assert (before, after) == ("1.52656", "1.21695")
    assert f"L = {before}; after it L = {after}" in page.text_content("#panel-solution")
    assert after in page.text_content(".quantity[data-section='update'][data-key='loss']")
    assert page.text_content("#loss-now").startswith(f"L = {before} ")


def _colour(page, css_colour):
    """A CSS colour as the browser computes it (rgb(...))."""
    return page.evaluate("""c => { const s = document.createElement("span"); s.style.color = c;
        document.body.append(s); const v = getComputedStyle(s).color; s.remove(); return v; }""",
                         css_colour)


def test_a_step_flashes_the_changed_edges_in_a_colour_of_their_own(page):
    # hold each flash at its first frame, so that its colour can be read
    page.evaluate("""() => { const s = new CSSStyleSheet();
        s.replaceSync("#net .changed { animation-play-state: paused !important; }");
        document.adoptedStyleSheets = [s]; }""")
    page.click("#step")
    page.wait_for_selector("#net .edge.changed", state="attached")
    flashed = page.eval_on_selector_all(
        "#net .edge.changed", "els => [...new Set(els.map(e => getComputedStyle(e).stroke))]")
    negative = _colour(page, "var(--neg)")
    positive = _colour(page, "var(--pos)")
    assert negative == page.eval_on_selector(".legend .neg", "e => getComputedStyle(e).color")
    assert len(flashed) == 1 and flashed[0] not in (negative, positive), (flashed, negative)
    # the legend says which colour it is
    assert flashed[0] == page.eval_on_selector(".legend .changed-key",
                                               "e => getComputedStyle(e).color")


def test_the_empty_loss_plot_labels_its_axis_once_and_readably(browser, server):
    phone = _open(browser, server, 390, 844)
    ticks = phone.eval_on_selector_all("#loss-curve text.tick", """els => els.map(e => ({
        text: e.textContent, height: e.getBoundingClientRect().height}))""")
    assert [t["text"] for t in ticks] == ["1.52656"]  # once, not "1.527" at both ends
    assert all(t["height"] >= 11 for t in ticks), ticks  # 12 px text, as on a desk
    assert phone.locator("#loss-curve circle.now").count() == 1  # the loss now, a dot
    phone.click("#step")
    phone.wait_for_function("() => document.querySelectorAll('#loss-curve text.tick')"
                            ".length === 2")
    assert phone.eval_on_selector_all("#loss-curve text.tick", "els => els.map(e => e.textContent)"
                                      ) == ["1.52656", "1.21695"]
    phone.close()


def _picked(page):
    return page.eval_on_selector("#examples", "s => s.options[s.selectedIndex].textContent")


def test_the_example_picker_names_the_problem_loaded(page):
    assert _picked(page) == SEED["title"]  # not "choose…" while the seed is loaded
    page.click("#step")
    page.wait_for_function("() => document.querySelector('#loss-now').textContent"
                           ".includes('after 1 step')")
    assert _picked(page) == f"{SEED['title']} (edited or stepped)"
    page.click("#reset")
    page.wait_for_function("() => document.querySelector('#loss-now').textContent"
                           ".includes('after 0 steps')")
    assert _picked(page) == SEED["title"]
    _load_example(page, "Two hidden layers, a batch of three", [3, 4, 3, 2])
    assert _picked(page) == "Two hidden layers, a batch of three"


def test_the_grader_says_whether_the_tolerance_or_the_decimals_apply(page, tmp_path):
    page.click("#tab-grade")
    assert page.is_enabled("#rtol") and page.is_disabled("#decimals")
    assert "The decimals box does not apply" in page.text_content("#tolerance-help")
    page.check("input[name=compare][value=decimals]")
    assert page.is_disabled("#rtol") and page.is_enabled("#decimals")
    assert "The relative tolerance does not apply" in page.text_content("#tolerance-help")
    page.fill("#decimals", "2")
    assert "rounded to 2 decimals" in page.text_content("#tolerance-help")
    page.fill("#answer", "[forward]\nz = [0, -3, 1]\n")
    page.click("#grade")
    page.wait_for_selector("#grade-summary")
    assert "answers rounded to 2 decimals" in page.text_content("#grade-summary")  # the server's
    page.check("input[name=compare][value=rtol]")
    page.click("#grade")
    page.wait_for_function("() => document.querySelector('#grade-summary')"
                           "?.textContent.includes('relative tolerance 0.001')")
    assert "rounded to 2 decimals" not in page.text_content("#grade-summary")


def test_the_tooltip_names_the_entry_and_evaluates_the_derivative(browser, server, tmp_path):
    sigmoid = json.loads(json.dumps(SEED))
    sigmoid["network"]["activation"] = "sigmoid"
    cli = _solve_cli(sigmoid, tmp_path)
    opened = _open(browser, server, 1400, 900, sigmoid)
    assert opened.get_attribute("#net .node.layer1[data-k='1'] .name", "data-text") == "a1[2]"
    opened.check("input[value=backward]")
    opened.focus("#net .node.layer1[data-k='1']")
    h, a = cli["forward"]["h1"][1], cli["forward"]["a1"][1]
    slope = a * (1 - a)  # σ′(h) = σ(h)(1 − σ(h)), worked here from the CLI's a
    lines = _tip_lines(opened)
    assert lines[1] == f"σ′(h1[2]) = σ′({_cli_number(h)}) = {_cli_number(slope)}", lines
    assert lines[2].endswith(f"∂L/∂h1[2] = {_cli_number(cli['backward']['dh1'][1])}")
    typeset = opened.eval_on_selector_all(  # the LaTeX KaTeX typeset for the reader
        "#tooltip annotation", "els => els.map(e => e.textContent)")
    assert any(tex.startswith(r"\sigma'\!\left(h_{1}[2]\right) = \sigma'(") for tex in typeset)
    opened.close()


# ------------------------------------------------------ Problem 1: formulas beside the numbers

def _formula_verdicts(page):
    """The verdict boxes of Problem 1: name -> (status class, cause, whether it is typeset)."""
    return {name: (status, cause, typeset) for name, status, cause, typeset in
            page.eval_on_selector_all(
                ".formula-verdict",
                "els => els.map(e => [e.dataset.name, [...e.classList].find(c => "
                "c.startsWith('status-')), (e.querySelector('.cause') || {}).textContent || '', "
                "!!e.querySelector('.read .katex')])")}


def test_formulas_are_graded_and_read_back_typeset(page):
    page.click("#tab-grade")
    # a field per asked gradient, its symbol typeset; the steps folded away
    assert page.locator("#formula-fields input").count() == 4
    assert page.locator("#formula-fields label .katex").count() == 4
    assert not page.is_visible("#formula-dz")
    page.fill("#formula-dW2", "(yhat - ys) @ a1.T")  # the outer product the wrong way round
    page.fill("#formula-db2", r"\hat{y} - y^{s}")  # LaTeX, right
    page.fill("#formula-dW1", "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))")
    page.fill("#formula-db1", "(W2 @ (yhat - ys)) * (h1 > 0")  # a ')' short
    page.click("#grade")
    page.wait_for_selector(".formula-verdict")
    verdicts = _formula_verdicts(page)
    assert verdicts == {"dW2": ("status-wrong", "outer_order", True),
                        "db2": ("status-correct", "", True),
                        "dW1": ("status-correct", "", True),
                        "db1": ("status-wrong", "unreadable", False)}
    summary = page.text_content("#formula-summary")
    assert summary.startswith("2 correct, 0 carried forward, 2 wrong, 0 missing")
    dW2 = page.locator(".formula-verdict[data-name=dW2]")
    assert "outer product in the wrong order" in dW2.text_content()
    assert dW2.locator(".expected .katex").count() == 1  # a right one, typeset
    # each is read back as the grader read it, typeset (KaTeX keeps the TeX it set)
    tex = ".formula-verdict[data-name={}] .read .katex annotation"
    assert page.text_content(tex.format("dW2")) == r"\left(\hat{y} - y^{s}\right)\,a_{1}^{\top}"
    assert page.text_content(tex.format("db2")) == r"\hat{y} - y^{s}"
    caret = page.text_content(".formula-verdict[data-name=db1] pre.caret")
    text, marker = caret.split("\n")
    assert text == "(W2 @ (yhat - ys)) * (h1 > 0" and marker.index("^") == len(text)
    # no numbers given: said so, and nothing is marked on the network
    assert "No numbers given" in page.text_content("#grade-summary")
    assert page.locator("#net .node.wrong").count() == 0


def test_the_downloaded_answer_carries_the_formulas(page, tmp_path):
    page.click("#tab-grade")
    page.fill("input[data-grid='forward.z'][data-r='0'][data-c='0']", "0")
    page.fill("input[data-grid='forward.z'][data-r='0'][data-c='1']", "-3")
    page.fill("input[data-grid='forward.z'][data-r='0'][data-c='2']", "1")
    page.fill("#formula-db2", r"\hat{y} - y^{s}")
    page.fill("#formula-dW2", "(yhat - ys) @ a1.T")
    with page.expect_download() as download_info:
        page.click("#download-answer")
    path = tmp_path / "answer.toml"
    download_info.value.save_as(path)
    written = tomllib.loads(path.read_text(encoding="utf-8"))
    assert written == {"forward": {"z": [0, -3, 1]},
                       "derivation": {"dW2": "(yhat - ys) @ a1.T", "db2": r"\hat{y} - y^{s}"}}
    done = subprocess.run([sys.executable, "-m", "handgrad", "grade", "homework3", str(path),
                           "-f", "json"], capture_output=True, text=True)
    report = json.loads(done.stdout)
    page.click("#grade")
    page.wait_for_selector(".formula-verdict")
    cli = {i["name"]: (i["status"], i["cause"] or "") for i in report["items"]
           if i["section"] == "derivation"}
    shown = {name: (status.removeprefix("status-"), cause)
             for name, (status, cause, _) in _formula_verdicts(page).items()}
    assert cli == shown and cli["dW2"] == ("wrong", "outer_order")
    assert cli["db2"] == ("correct", "") and cli["db1"] == ("missing", "")


def test_the_syntax_choice_and_the_steps_go_with_the_numbers(page, tmp_path):
    cli = _solve_cli(SEED, tmp_path)
    page.click("#tab-grade")
    page.fill("#answer", f"[forward]\nh1 = {json.dumps(cli['forward']['h1'])}\n")
    page.click("#formula-steps summary")
    page.fill("#formula-dz", "ys - yhat")  # the sign slip, as a step
    page.fill("#formula-db2", "dz")  # right in terms of it: carried forward
    page.select_option("#formula-syntax", "numpy")
    page.click("#grade")
    page.wait_for_selector(".formula-verdict")
    verdicts = _formula_verdicts(page)
    assert verdicts["dz"][:2] == ("status-wrong", "dz_sign")
    assert verdicts["db2"][0] == "status-carried_forward"
    assert verdicts["dW2"][0] == "status-missing"
    assert "1 correct" in page.text_content("#grade-summary")  # the numbers, apart
    assert _page_statuses(page)[("forward", "h1")] == "correct"
    # forced LaTeX: the NumPy-like step cannot be read
    page.select_option("#formula-syntax", "latex")
    page.fill("#formula-dz", "yhat.T")
    page.click("#grade")
    page.wait_for_function("() => document.querySelector("
                           "'.formula-verdict[data-name=dz] .cause')?.textContent === "
                           "'unreadable'")


def test_the_formula_part_fits_a_phone(browser, server):
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    phone.goto(server)
    phone.wait_for_selector("body[data-ready=true]", timeout=20_000)
    phone.click("#tab-grade")
    phone.fill("#formula-dW2", r"a_1 \left(\hat{y} - y^{s}\right)^\top \odot \mathbb{1}[h_1 > 0]"
               r" + W_2 W_2^\top W_2 W_2^\top (\hat{y} - y^{s}) (\hat{y} - y^{s})^\top")
    phone.fill("#formula-db1", "outer(x, (W2 @ (yhat - ys)) * (h1 > 0)) + (W2 @ (yhat - ys) "
               "* (h1 > 0)) + (W2 @ (yhat - ys)) * (h1 > 0) + ((((")
    phone.click("#grade")
    phone.wait_for_selector(".formula-verdict")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.close()
