"""The playground's JSON API: the same answers and messages as the command line, its limits,
and an OpenAPI-driven fuzz (schemathesis) that must never see a server error."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from handgrad.problem import default_problem_path  # noqa: E402
from handgrad.serve.api import (  # noqa: E402
    LIMITS,
    MAX_BODY_BYTES,
    STATIC,
    create_app,
    server_for,
)

SEED = tomllib.loads(default_problem_path().read_text(encoding="utf-8"))
DEEP_BATCH = tomllib.loads(
    default_problem_path().with_name("deep_batch.toml").read_text(encoding="utf-8"))
PAGE_FIXTURES = Path(__file__).parent / "js" / "fixtures"
TEST_HOSTS = ("testserver",)  # the Host that Starlette's test client and schemathesis send


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(hosts=TEST_HOSTS))


def _cli_json(*args):
    done = subprocess.run([sys.executable, "-m", "handgrad", *args], capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout)


def test_solve_is_the_command_lines_answer(client):
    response = client.post("/api/solve", json={"problem": SEED})
    assert response.status_code == 200
    body = response.json()
    cli = _cli_json("solve", "--format", "json")
    for section in ("forward", "backward", "update"):
        assert body["solution"][section] == cli[section]
    assert body["solution"]["history"] == cli["history"]
    shown = {(q["section"], q["key"]): q for q in body["quantities"]}
    assert shown[("forward", "h1")]["value"] == [-13.0, 2.0, -5.0]
    assert shown[("backward", "dz")]["formula_latex"]
    assert body["document"]["params"]["W1"] == SEED["params"]["W1"]


def test_invalid_problems_get_the_command_lines_message(client, tmp_path):
    bad = json.loads(json.dumps(SEED))
    bad["loss"]["label_smoothing"] = 2
    response = client.post("/api/solve", json={"problem": bad})
    assert response.status_code == 422
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    cli = subprocess.run([sys.executable, "-m", "handgrad", "solve", str(path)],
                         capture_output=True, text=True)
    message = response.json()["error"].split(": ", 1)[1]
    assert message in cli.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["network"].update(layers=[2, 3, 3, 3, 3, 3, 3, 3, 3]), "at most 8"),
        (lambda d: d["network"].update(layers=[2, 3000, 3000, 3]), "at most 64 units"),
        (lambda d: d["network"].update(layers=[2, 65, 3]) or d.pop("params"),
         "at most 64 units"),
        (lambda d: d["data"].update(x=[[0, 2]] * 33, y=[[1, 0, 0]] * 33), "at most 32"),
    ],
)
def test_size_limits_for_interactive_use(client, change, message):
    document = json.loads(json.dumps(SEED))
    change(document)
    response = client.post("/api/solve", json={"problem": document})
    assert response.status_code == 422 and message in response.json()["error"]


def test_request_body_limit(client):
    padding = "x" * (MAX_BODY_BYTES + 10)
    response = client.post("/api/solve", content=json.dumps({"problem": SEED, "pad": padding}),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert client.post("/api/step", json={"problem": SEED, "steps": LIMITS["steps"] + 1}
                       ).status_code == 422


def test_a_chunked_body_is_refused_once_past_the_limit():
    """Against a real server: a chunked upload (no Content-Length) is answered 413 while it
    is still arriving, after about the limit, not after all of it has been read."""
    import socket
    import threading
    import time

    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    server = server_for(create_app())
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listening]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
            connection.sendall(b"POST /api/solve HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               b"Content-Type: application/json\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n")
            chunk = b"10000\r\n" + b"x" * 65536 + b"\r\n"
            connection.settimeout(0.05)
            answer = b""
            while sent < 64 * 2**20 and not answer:
                try:
                    connection.sendall(chunk)
                    sent += 65536
                    answer = connection.recv(200)
                except TimeoutError:
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    break
            connection.settimeout(5)
            answer += connection.recv(200) if not answer else b""
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listening.close()
    assert b" 413 " in answer.split(b"\r\n")[0]
    assert sent < 4 * MAX_BODY_BYTES


def test_slow_work_is_bounded(client):
    deep = json.loads(json.dumps(SEED))
    deep["network"]["layers"] = [2, 2, 2, 2, 2, 2, 2, 2]  # 7 weight layers: past the limits
    deep["data"]["y"] = [1, 0]
    deep.pop("params")
    for path, body in [("/api/derive", {"problem": deep}),
                       ("/api/export", {"problem": deep, "format": "html"})]:
        response = client.post(path, json=body)
        assert response.status_code == 422 and "derivation" in response.json()["error"]
    hopeless = client.post("/api/generate", json={"layers": [8, 8, 8, 8], "low": -1, "high": 0})
    assert hopeless.status_code == 422 and "draws" in hopeless.json()["error"]
    nested = "[forward]\nh1 = " + "[" * 3000 + "1" + "]" * 3000 + "\n"
    response = client.post("/api/grade", json={"problem": SEED, "answer_text": nested})
    assert 400 <= response.status_code < 500


def test_export_of_an_untitled_problem(client):
    untitled = {k: v for k, v in SEED.items() if k != "title"}
    response = client.post("/api/export", json={"problem": untitled, "format": "toml"})
    assert response.status_code == 200
    assert tomllib.loads(response.text)["params"] == SEED["params"]


def test_bad_json_is_a_4xx(client):
    response = client.post("/api/solve", content="{not json",
                           headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500


def test_steps_lower_the_loss_and_match_the_solvers_update(client):
    one = client.post("/api/step", json={"problem": SEED, "steps": 1}).json()
    cli = _cli_json("solve", "--format", "json")
    assert one["problem"]["params"]["W2"] == cli["update"]["W2"]
    assert one["losses"] == [cli["history"][0], cli["history"][1]]
    many = client.post("/api/step", json={"problem": SEED, "steps": 50}).json()
    assert many["losses"][-1] < many["losses"][0]
    assert client.post("/api/solve", json={"problem": many["problem"]}).status_code == 200


def test_steps_of_a_problem_of_many_steps_are_the_solvers(client, tmp_path):
    """/api/step and `handgrad solve` run the same steps: deep_batch's two, from the labels."""
    cli = _cli_json("solve", str(default_problem_path().with_name("deep_batch.toml")), "-f",
                    "json")
    stepped = client.post("/api/step", json={"problem": DEEP_BATCH, "steps": 2}).json()
    assert stepped["losses"] == pytest.approx(cli["history"], rel=1e-12)
    for name, value in cli["update"].items():
        if name != "loss":
            _same(stepped["problem"]["params"][name], value, name)
    frozen = json.loads(json.dumps(SEED))
    frozen["optimizer"]["frozen"] = ["W1"]
    stepped = client.post("/api/step", json={"problem": frozen, "steps": 3}).json()
    assert stepped["problem"]["params"]["W1"] == SEED["params"]["W1"]
    assert stepped["problem"]["params"]["b1"] != SEED["params"]["b1"]


def _one_weight(w: float, learning_rate: float, x: float = 1.0) -> dict[str, Any]:
    """ŷ = w·x + b, L = ½(ŷ − 0)², so ∂L/∂w = ŷ·x and ∂L/∂b = ŷ: divergence by hand."""
    return {"network": {"layers": [1, 1], "output": "identity"},
            "loss": {"kind": "squared_error"}, "params": {"W1": [[w]], "b1": [0]},
            "data": {"x": [x], "y": [0]}, "optimizer": {"learning_rate": learning_rate}}


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        # L = ½(10²⁰⁰)² overflows before any step
        (_one_weight(1e200, 0.1), "the loss became infinite or NaN"),
        # one step: w = 1 − 10²⁰⁰, b = −10²⁰⁰, finite; then L = ½(−2·10²⁰⁰)² overflows
        (_one_weight(1, 1e200), "the loss became infinite or NaN"),
        # one step: ∂L/∂w = ŷ·x = 4, so w = 1 − 1.7·10³⁰⁸ · 4 is −inf
        (_one_weight(1, 1.7e308, x=2.0), "the steps diverged: a parameter became infinite"),
    ],
)
def test_a_diverging_run_names_what_went_first(client, problem, message):
    response = client.post("/api/step", json={"problem": problem, "steps": 3})
    assert response.status_code == 422 and message in response.json()["error"]
    tame = client.post("/api/step", json={"problem": _one_weight(1, 0.1), "steps": 3}).json()
    # ŷ shrinks by 1 − η(x² + 1) = 0.8 a step: L = ½·0.8²ᵏ
    assert tame["losses"] == pytest.approx([0.5, 0.32, 0.2048, 0.131072], rel=1e-12)


def test_documents_load_back_and_keep_class_labels(client):
    """The page edits, links and exports `document`: a problem document (nothing read-only in
    it) that solves to the same numbers, with class labels kept as the labels given."""
    body = client.post("/api/solve", json={"problem": DEEP_BATCH}).json()
    document = body["document"]
    assert document["data"] == {"x": DEEP_BATCH["data"]["x"], "label": [0, 1, 1]}
    assert "params_initialised" not in document and "params_initialised" not in body["problem"]
    again = client.post("/api/solve", json={"problem": document}).json()
    assert again["quantities"] == body["quantities"]
    stepped = client.post("/api/step", json={"problem": DEEP_BATCH, "steps": 1}).json()
    assert stepped["problem"]["data"]["label"] == [0, 1, 1]
    untitled = {k: v for k, v in SEED.items() if k != "title"}
    document = client.post("/api/solve", json={"problem": untitled}).json()["document"]
    assert "title" not in document and "label" not in document["data"]
    assert document["data"]["y"] == SEED["data"]["y"]
    toml_text = client.post("/api/export", json={"problem": DEEP_BATCH, "format": "toml"}).text
    assert tomllib.loads(toml_text)["data"]["label"] == [0, 1, 1]


def test_capabilities_name_the_activations_and_outputs(client):
    """The page's menus come from core.activations, through /api/capabilities."""
    capabilities = client.get("/api/capabilities").json()
    activations = {f["name"]: f for f in capabilities["activations"]}
    assert list(activations) == ["relu", "leaky_relu", "sigmoid", "tanh", "identity"]
    assert activations["leaky_relu"]["label"] == "leaky ReLU"
    assert activations["sigmoid"]["text"] == "σ" and activations["sigmoid"]["latex"] == r"\sigma"
    outputs = {f["name"]: f for f in capabilities["outputs"]}
    assert list(outputs) == ["softmax", "sigmoid", "identity"]
    assert outputs["softmax"]["latex"] == r"\operatorname{softmax}"


_IMPORT = re.compile(r"""^import\b[^"']*["']\./([\w-]+\.mjs)["'];?$""", re.MULTILINE)


def test_the_page_is_served_as_modules_and_nothing_else(client):
    """index.html loads app.mjs as a module; every module it imports, and theirs, is served
    as JavaScript (a browser refuses a module of any other type); the static folder holds the
    page's files only, so the route serves nothing more."""
    page = client.get("/").text
    assert '<script type="module" src="/static/app.mjs"></script>' in page
    seen: set[str] = set()
    waiting = ["app.mjs"]
    while waiting:
        name = waiting.pop()
        if name in seen:
            continue
        seen.add(name)
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith("text/javascript"), name
        waiting.extend(_IMPORT.findall(response.text))
    on_disk = {path.name for path in STATIC.iterdir()}
    assert on_disk == seen | {"index.html", "style.css"}
    for path in ("/static/app.js", "/static/../__init__.py", "/static/__pycache__"):
        assert client.get(path).status_code == 404


def _page_fixture(client, name: str) -> dict[str, Any]:
    """The /api/solve answers that tests/js feeds the page's modules."""
    document = json.loads(json.dumps(SEED if name == "homework3_frozen" else DEEP_BATCH))
    if name == "homework3_frozen":
        document["optimizer"]["frozen"] = ["W1"]
    return client.post("/api/solve", json={"problem": document}).json()


def _same(got: Any, want: Any, where: str = "") -> None:
    if isinstance(want, dict):
        assert set(got) == set(want), where
        for key in want:
            if key != "checks":  # finite-difference errors depend on the machine's libm
                _same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            _same(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-300), where
    else:
        assert got == want, where


@pytest.mark.parametrize("name", ["deep_batch", "homework3_frozen"])
def test_the_page_unit_tests_read_the_apis_answer(client, name):
    """tests/js/fixtures hold real /api/solve answers; they must stay the server's answer.
    To accept a deliberate change, run with HANDGRAD_UPDATE_GOLDEN=1 and rerun node --test."""
    from handgrad.render.json import dumps

    answer = _page_fixture(client, name)
    path = PAGE_FIXTURES / f"{name}.json"
    if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
        path.write_text(dumps(answer) + "\n", encoding="utf-8")
    _same(answer, json.loads(path.read_text(encoding="utf-8")), name)


def test_grade_generate_examples_and_export(client):
    cli = _cli_json("solve", "--format", "json")
    answer = {"forward": cli["forward"], "backward": dict(cli["backward"])}
    answer["backward"]["dz"] = [-v for v in cli["backward"]["dz"]]
    report = client.post("/api/grade", json={"problem": SEED, "answer": answer}).json()
    assert report["first_wrong"] == "dz"
    text = "[forward]\nz = [0, -3, 1]\n"
    report = client.post("/api/grade", json={"problem": SEED, "answer_text": text}).json()
    assert report["summary"]["correct"] == 1
    bad = client.post("/api/grade", json={"problem": SEED, "answer_text": "[forward]\nzz = 1\n"})
    assert bad.status_code == 422 and "did you mean 'z'" in bad.json()["error"]

    made = client.post("/api/generate", json={"seed": 3}).json()["problem"]
    assert client.post("/api/solve", json={"problem": made}).status_code == 200
    names = [e["name"] for e in client.get("/api/examples").json()]
    assert names == ["homework3", "deep_batch", "regression"]

    toml_text = client.post("/api/export", json={"problem": SEED, "format": "toml"}).text
    assert tomllib.loads(toml_text)["params"] == SEED["params"]
    solution = client.post("/api/export", json={"problem": SEED, "format": "json"}).json()
    assert solution["update"] == cli["update"]


def test_nothing_outside_the_static_folders_is_served(client):
    for path in ("/static/../api.py", "/static/%2e%2e/api.py", "/static/katex/../../cli.py",
                 "/static/..%2f..%2fcli.py"):
        response = client.get(path)
        assert response.status_code == 404 or "def create_app" not in response.text


def test_openapi_description_lists_the_api(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/solve", "/api/step", "/api/derive", "/api/grade", "/api/generate",
            "/api/export"} <= set(paths)


# -------------------------------------------------------------------------- fuzzing

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

fuzzed = schemathesis.openapi.from_asgi("/openapi.json", create_app(hosts=TEST_HOSTS))


@fuzzed.exclude(path="/api/export").exclude(path="/api/derive").parametrize()
@settings(max_examples=40, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_api_never_answers_with_a_server_error(case):
    case.call_and_validate(checks=[not_a_server_error])


@fuzzed.include(path_regex="^/api/(derive|export)$").parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_slow_endpoints_never_answer_with_a_server_error(case):
    """derive and export run sympy (and pdflatex): fewer examples, the same check."""
    case.call_and_validate(checks=[not_a_server_error])


def test_a_derivation_is_not_served_from_another_problems_cache(client):
    """The derivation states the batch size, ε and the title: changing any of them (and not
    the architecture) must not bring back the earlier problem's derivation."""
    first = client.post("/api/derive", json={"problem": DEEP_BATCH}).json()
    assert "B = 3" in first["sizes"] and "Two hidden layers" in first["problem"]
    changed = json.loads(json.dumps(DEEP_BATCH))
    changed["title"] = "CHANGED"
    changed["loss"]["label_smoothing"] = 0.25
    changed["data"]["x"] = changed["data"]["x"][:2]
    changed["data"]["label"] = changed["data"]["label"][:2]
    second = client.post("/api/derive", json={"problem": changed}).json()
    text = json.dumps(second)
    assert "B = 2" in second["sizes"] and "CHANGED" in second["problem"]
    assert "0.25" in text and "ε = 0.1" not in text


# ------------------------------------------------------ Problem 1 beside the numbers

RIGHT_FORMULAS = {"dW2": "outer(a1, yhat - ys)", "db2": r"\hat{y} - y^{s}",
                  "dW1": "outer(x, (W2 @ (yhat - ys)) * (h1 > 0))",
                  "db1": "(W2 @ (yhat - ys)) * (h1 > 0)"}


def test_solve_names_problem_1s_gradients_from_the_problems_depth(client):
    seed = client.post("/api/solve", json={"problem": SEED}).json()["formulas"]
    assert [(f["name"], f["asked"]) for f in seed] == [
        ("dyhat", False), ("dz", False), ("dW2", True), ("db2", True), ("da1", False),
        ("dh1", False), ("dW1", True), ("db1", True)]
    assert seed[2]["symbol"] == "∂L/∂W2"
    assert seed[2]["symbol_latex"] == r"\frac{\partial L}{\partial W_{2}}"
    deep = client.post("/api/solve", json={"problem": DEEP_BATCH}).json()["formulas"]
    assert [f["name"] for f in deep if f["asked"]] == ["dW3", "db3", "dW2", "db2", "dW1", "db1"]


def test_grade_takes_formulas_beside_the_numbers(client):
    text = "[forward]\nz = [0, -3, 1]\n"
    formulas = {**RIGHT_FORMULAS, "dW2": "(yhat - ys) @ a1.T", "dz": "", "db1": "outer(x"}
    report = client.post("/api/grade", json={"problem": SEED, "answer_text": text,
                                             "derivation": formulas}).json()
    numbers = [i for i in report["items"] if i["section"] != "derivation"]
    assert next(i for i in numbers if i["name"] == "z")["status"] == "correct"
    items = {i["name"]: i for i in report["items"] if i["section"] == "derivation"}
    assert list(items) == ["dW2", "db2", "dW1", "db1"]  # a blank step is not given
    assert (items["dW2"]["status"], items["dW2"]["cause"]) == ("wrong", "outer_order")
    assert items["dW2"]["read_latex"] == r"\left(\hat{y} - y^{s}\right)\,a_{1}^{\top}"
    assert items["dW2"]["expected_latex"]
    assert items["db2"]["status"] == "correct" and items["db2"]["read"] == "yhat - ys"
    assert (items["db1"]["cause"], items["db1"]["position"]) == ("unreadable", 7)
    assert report["derivation"] == {"summary": {"correct": 2, "carried_forward": 0,
                                                "wrong": 2, "missing": 0},
                                    "first_wrong": "dW2"}


def test_formulas_alone_the_syntax_and_the_texts_own_section(client):
    alone = client.post("/api/grade", json={"problem": SEED, "answer_text": "",
                                            "derivation": RIGHT_FORMULAS}).json()
    assert alone["derivation"]["summary"]["correct"] == 4
    # forced NumPy-like, the LaTeX one cannot be read
    forced = client.post("/api/grade", json={"problem": SEED, "derivation": RIGHT_FORMULAS,
                                             "syntax": "numpy"}).json()
    db2 = next(i for i in forced["items"] if i["name"] == "db2" and i["section"] == "derivation")
    assert db2["cause"] == "unreadable"
    # the pasted text's own [derivation] section, and the form's formula over it
    text = '[derivation]\ndW2 = "outer(yhat - ys, a1)"\ndb2 = "yhat - ys"\n'
    both = client.post("/api/grade", json={"problem": SEED, "answer_text": text,
                                           "derivation": {"dW2": "outer(a1, yhat - ys)"}})
    statuses = {i["name"]: i["status"] for i in both.json()["items"]
                if i["section"] == "derivation"}
    assert statuses == {"dW2": "correct", "db2": "correct", "dW1": "missing", "db1": "missing"}


@pytest.mark.parametrize(("body", "message"), [
    ({"derivation": {"dW9": "x"}}, "derivation.dW9: not a gradient of this problem"),
    ({"derivation": {"dW1": "x" * 2001}}, "at most 2000 characters"),
    ({"derivation": {"dW1": "x"}, "syntax": "maple"}, "syntax"),
    ({"derivation": {"dW1": "   "}}, "the answer is empty"),
])
def test_bad_formulas_are_a_clear_4xx(client, body, message):
    response = client.post("/api/grade", json={"problem": SEED, **body})
    assert response.status_code == 422, response.text
    assert message in response.text


GRADE_FIXTURE = {"answer_text": "[forward]\nz = [0, -3, 1]\n",
                 "derivation": {"dz": "ys - yhat", "db2": "dz", "dW2": "(yhat - ys) @ a1.T",
                                "dW1": r"x \left(W_2 (\hat{y} - y^{s}) \odot \mathbb{1}[h_1 > 0]"
                                       r"\right)^\top",
                                "db1": "outer(x"}}


def test_the_page_unit_tests_read_the_graders_answer(client):
    """tests/js/fixtures/grade_formulas.json: a real /api/grade answer with formulas, for the
    page's formula module (HANDGRAD_UPDATE_GOLDEN=1 to accept a deliberate change)."""
    from handgrad.render.json import dumps

    answer = client.post("/api/grade", json={"problem": SEED, **GRADE_FIXTURE}).json()
    path = PAGE_FIXTURES / "grade_formulas.json"
    if os.environ.get("HANDGRAD_UPDATE_GOLDEN"):
        path.write_text(dumps(answer) + "\n", encoding="utf-8")
    _same(answer, json.loads(path.read_text(encoding="utf-8")), "grade_formulas")
