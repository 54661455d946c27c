"""The playground's server: the page, and a JSON API over handgrad's Python API.

Every number the page shows comes from here: the solver, the derivation, the grader, the
generator and the core's gradient steps. The page computes nothing.

Safety: problems arrive as JSON documents (never file paths), request bodies are capped at
`MAX_BODY_BYTES`, and problems are bounded for interactive use (`LIMITS`), so that no request
can make the server work for long; every bad request gets a 4xx with the message the command
line would print.
"""

from __future__ import annotations

import base64
import json
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from handgrad.core import network
from handgrad.core.activations import ACTIVATIONS, OUTPUTS
from handgrad.errors import HandgradError
from handgrad.problem import Problem, default_problem_path, read_document, validate_problem
from handgrad.solution import plain

STATIC = Path(__file__).parent / "static"
KATEX = Path(__file__).parent.parent / "render" / "katex"
MAX_BODY_BYTES = 256 * 1024
LIMITS = {
    "layers": 8,  # sizes d, n1, ..., q: at most 8 of them
    "units": 64,  # per layer
    "batch": 32,  # instances
    "steps": 500,  # gradient steps per request
    "derive_depth": 3,  # weight layers for the sympy-verified derivation (and the reports)
    "derive_units": 8,  # units per layer there
    "generate_draws": 500,  # tries for one generated problem
}
# the choices of network.activation and network.output, as the page's menus show them
FUNCTIONS = {
    kind: [{"name": name, "label": rule.label, "text": rule.text, "latex": rule.latex}
           for name, rule in table.items()]
    for kind, table in (("activations", ACTIVATIONS), ("outputs", OUTPUTS))
}
DERIVATIONS_KEPT = 16  # derivations cached (by architecture), oldest dropped first
EXAMPLES = ("homework3.toml", "deep_batch.toml", "regression.toml")


class ProblemRequest(BaseModel):
    problem: dict[str, Any] = Field(description="A problem document, as in a problem file")


class StepRequest(ProblemRequest):
    steps: int = Field(1, ge=1, le=LIMITS["steps"])


class GradeRequest(ProblemRequest):
    answer: dict[str, Any] | None = Field(None, description="Quantities by section and name")
    answer_text: str | None = Field(None, max_length=64_000, description="TOML or JSON text")
    rtol: float = Field(1e-3, gt=0, le=1)
    decimals: int | None = Field(None, ge=0, le=15)


class GenerateRequest(BaseModel):
    seed: int = Field(0, ge=0, le=2**32 - 1)
    layers: list[int] = Field(default_factory=lambda: [2, 3, 3], min_length=2, max_length=4)
    low: int = Field(-5, ge=-20, le=20)
    high: int = Field(5, ge=-20, le=20)
    decimals: int = Field(0, ge=0, le=1)


class ExportRequest(ProblemRequest):
    format: Literal["toml", "json", "html", "pdf"] = "toml"


class RequestError(HandgradError):
    """A request that cannot be served, with its HTTP status."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def interactive_problem(document: dict[str, Any]) -> Problem:
    """Validate a problem document and hold it to the playground's size limits."""
    network_section = document.get("network")
    layers_given = network_section.get("layers") if isinstance(network_section, dict) else None
    if isinstance(layers_given, list) and all(type(n) is int for n in layers_given):
        _check_layers(layers_given)  # before validation would draw parameters for them
    problem = validate_problem(document, "problem")
    _check_layers(list(problem.architecture.layers))
    if problem.batch_size > LIMITS["batch"]:
        raise RequestError(f"data.x: at most {LIMITS['batch']} instances here")
    if problem.spec.optimizer.steps > LIMITS["steps"]:
        raise RequestError(f"optimizer.steps: at most {LIMITS['steps']} here")
    return problem


class BodyLimit:
    """ASGI middleware: refuse a body over `limit` bytes, by its Content-Length or, for a
    chunked upload, as soon as the bytes received pass the limit (not after reading it all)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            response = JSONResponse({"error": f"request body over {self.limit} bytes"}, 413)
            await response(scope, receive, send)
            return
        # read the body here, at most `limit` bytes of it, then hand it on in one piece
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                response = JSONResponse({"error": f"request body over {self.limit} bytes"}, 413)
                await response(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _check_derivable(problem: Problem) -> None:
    """The derivation runs sympy: bounded harder than solving, so that it answers in seconds."""
    arch = problem.architecture
    if arch.depth > LIMITS["derive_depth"] or max(arch.layers) > LIMITS["derive_units"]:
        raise RequestError(
            f"the derivation (and the reports, which carry it) is offered here for up to "
            f"{LIMITS['derive_depth']} weight layers of up to {LIMITS['derive_units']} units"
        )


def _check_layers(layers: list[int]) -> None:
    if len(layers) > LIMITS["layers"]:
        raise RequestError(f"network.layers: at most {LIMITS['layers']} layer sizes here")
    if layers and max(layers) > LIMITS["units"]:
        raise RequestError(f"network.layers: at most {LIMITS['units']} units per layer here")


def solve_payload(problem: Problem) -> dict[str, Any]:
    """The solver's JSON, plus each quantity's symbol and formula (text and LaTeX) to show."""
    from handgrad.render.json import solution_to_dict
    from handgrad.solver import solve

    solution = solve(problem)
    quantities = [
        {
            "section": q.section,
            "key": q.key,
            "symbol": q.symbol.text,
            "symbol_latex": q.symbol.latex,
            "formula": q.formula.text,
            "formula_latex": q.formula.latex,
            "relation": q.relation,
            "shape": list(q.shape),
            "value": plain(q.value),
            "note": q.note,
        }
        for q in solution.quantities
    ]
    return {
        "problem": problem.to_dict(),
        "document": _editable_document(problem),
        "solution": solution_to_dict(solution),
        "quantities": quantities,
        "batched": problem.batched,
    }


def _editable_document(problem: Problem, params: network.Params | None = None) -> dict[str, Any]:
    """The problem document the page edits, links to and exports: `Problem.to_dict()`, with
    `params` instead of the problem's own when given (the parameters after some steps)."""
    document = problem.to_dict()
    if params is not None:
        document["params"] = {name: plain(value) for name, value in params.items()}
    return document


LOSS_DIVERGED = "the loss became infinite or NaN; lower η or the parameters"
STEPS_DIVERGED = "the steps diverged: a parameter became infinite; lower η"


def step_payload(problem: Problem, steps: int) -> dict[str, Any]:
    """The problem after `steps` gradient steps (`network.descend`), with the loss before each
    and after the last."""
    optimizer = problem.spec.optimizer

    def descend(count: int) -> network.Descent:
        # overflow is reported below as the user's error, not warned about on the way
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return network.descend(problem.params, problem.x, problem.target,
                                   problem.architecture, optimizer.learning_rate, count,
                                   optimizer.frozen)

    run = descend(steps)
    losses = [float(loss) for loss in run.losses]
    _refuse_divergence(losses, run.params, descend)
    return {"problem": _editable_document(problem, run.params), "losses": losses}


def _refuse_divergence(losses: list[float], last: network.Params,
                       descend: Callable[[int], network.Descent]) -> None:
    """Refuse a run that overflowed, naming what went first: the loss before step k, or a
    parameter at step k (checked before the loss after it).

    `descend` checks nothing on the way, so the first non-finite loss says where to look: a
    parameter that is infinite or NaN stays so at every later step (inf − η·g is inf or NaN),
    so the parameters after that step show whether one broke at or before it.
    """
    broken = next((k for k, loss in enumerate(losses) if not np.isfinite(loss)), None)
    if broken == 0:
        raise RequestError(LOSS_DIVERGED)
    steps = len(losses) - 1
    at = steps if broken is None else broken
    params = last if at == steps else descend(at).params
    if not all(np.all(np.isfinite(value)) for value in params.values()):
        raise RequestError(STEPS_DIVERGED)
    if broken is not None:
        raise RequestError(LOSS_DIVERGED)


def create_app(start: dict[str, Any] | None = None) -> FastAPI:
    """The application; `start` is the problem document the page opens on (default: seed)."""
    from handgrad import __version__

    start_document = start or read_document(default_problem_path())
    app = FastAPI(
        title="handgrad playground",
        version=__version__,
        description="Backpropagation worked by hand and checked by machine: the playground's "
        f"JSON API. Problems are bounded for interactive use: {LIMITS}.",
    )
    derivations: dict[str, Any] = {}  # by architecture: the sympy check takes seconds

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, error: RecursionError) -> JSONResponse:
        return JSONResponse({"error": "the request is nested too deeply"}, 400)

    @app.exception_handler(HandgradError)
    async def user_error(request: Request, error: HandgradError) -> JSONResponse:
        status = error.status if isinstance(error, RequestError) else 422
        return JSONResponse({"error": str(error)}, status)

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/api/start")
    def start_problem() -> dict[str, Any]:
        """The problem the server was started with."""
        return {"problem": start_document}

    @app.get("/api/examples")
    def examples() -> list[dict[str, Any]]:
        """The built-in example problems."""
        folder = default_problem_path().parent
        found = []
        for name in EXAMPLES:
            document = read_document(folder / name)
            found.append({"name": name.removesuffix(".toml"),
                          "title": document.get("title", name), "problem": document})
        return found

    @app.post("/api/solve")
    def solve(request: ProblemRequest) -> dict[str, Any]:
        """Every quantity of the worked solution, with formulas, and the gradient checks."""
        return solve_payload(interactive_problem(request.problem))

    @app.post("/api/step")
    def step(request: StepRequest) -> dict[str, Any]:
        """The problem after N gradient-descent steps, and the loss before each and after."""
        return step_payload(interactive_problem(request.problem), request.steps)

    @app.post("/api/derive")
    def derive(request: ProblemRequest) -> dict[str, Any]:
        """The derivation of every gradient for the problem's architecture (sympy-verified)."""
        from handgrad.derive.steps import derive as derive_problem

        problem = interactive_problem(request.problem)
        _check_derivable(problem)
        signature = json.dumps([problem.architecture.__repr__(), problem.batched,
                                problem.spec.loss.smoothing, problem.spec.optimizer.frozen])
        if signature not in derivations:
            if len(derivations) >= DERIVATIONS_KEPT:
                derivations.pop(next(iter(derivations)))
            derivations[signature] = derive_problem(problem).to_dict()
        return derivations[signature]

    @app.post("/api/grade")
    def grade(request: GradeRequest) -> dict[str, Any]:
        """The grader's verdict on each quantity of an answer."""
        from handgrad.grade import Tolerance, grade_document

        problem = interactive_problem(request.problem)
        answer = request.answer
        if answer is None:
            answer = _parse_answer(request.answer_text or "")
        report = grade_document(problem, answer, Tolerance(request.rtol, request.decimals))
        return report.to_dict()

    @app.post("/api/generate")
    def generate(request: GenerateRequest) -> dict[str, Any]:
        """A fresh problem, well posed for hand calculation."""
        from handgrad.generate import GenerateSettings
        from handgrad.generate import generate as generate_problems

        if max(request.layers) > 8 or min(request.layers) < 1:
            raise RequestError("layers: sizes from 1 to 8 for a generated problem")
        settings = GenerateSettings(1, request.seed, tuple(request.layers), request.low,
                                    request.high, request.decimals,
                                    max_draws=LIMITS["generate_draws"])
        (document,) = generate_problems(settings)
        document["title"] = f"Generated problem (seed {request.seed})"
        return {"problem": document}

    @app.post("/api/export")
    def export(request: ExportRequest) -> Response:
        """The problem as TOML, its solution as JSON, or the report as HTML or PDF."""
        problem = interactive_problem(request.problem)
        name = "problem" if not problem.spec.title else _slug(problem.spec.title)
        if request.format == "toml":
            from handgrad.generate import toml_text

            return _download(toml_text(_editable_document(problem)), f"{name}.toml",
                             "application/toml")
        if request.format == "json":
            from handgrad.solver import solve as solve_problem

            return _download(solve_problem(problem).to_json(), f"{name}.json",
                             "application/json")
        from handgrad.render.report import report_blocks, report_solution

        _check_derivable(problem)  # a report carries the derivation
        derivation, solution = report_solution(problem)
        blocks = report_blocks(derivation, solution)
        if request.format == "html":
            from handgrad.render.html import write_html

            return _download(write_html(blocks, f"handgrad: {problem.name}"), f"{name}.html",
                             "text/html")
        from handgrad.render.document import Figure
        from handgrad.render.latex import compile_pdf, write_latex

        files = {b.name: b.png for b in blocks if isinstance(b, Figure)}
        pdf = compile_pdf(write_latex(blocks), files)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})

    @app.get("/api/capabilities")
    def capabilities() -> dict[str, Any]:
        """What this server offers: limits, whether PDF export works (pdflatex), and the hidden
        activations and output functions with how they are written (core.activations)."""
        import shutil

        return {"limits": LIMITS, "pdf": shutil.which("pdflatex") is not None,
                "max_body_bytes": MAX_BODY_BYTES, "activations": FUNCTIONS["activations"],
                "outputs": FUNCTIONS["outputs"]}

    # a module script with any type but JavaScript's is refused by the browser, and the
    # operating system's table (the Windows registry, say) may not know .mjs
    mimetypes.add_type("text/javascript", ".mjs")
    app.mount("/static/katex", StaticFiles(directory=KATEX), name="katex")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _parse_answer(text: str) -> dict[str, Any]:
    import tomllib

    stripped = text.strip()
    if not stripped:
        raise RequestError("the answer is empty: give quantities under [forward], [backward], "
                           "[update]")
    try:
        parsed = json.loads(stripped) if stripped.startswith("{") else tomllib.loads(stripped)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        raise RequestError(f"the answer is not valid TOML or JSON: {err}") from None
    except RecursionError:
        raise RequestError("the answer is nested too deeply") from None
    if not isinstance(parsed, dict):
        raise RequestError("the answer must be a table of sections")
    return parsed


def _slug(title: str) -> str:
    kept = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return "-".join(part for part in kept.split("-") if part)[:60] or "problem"


def _download(text: str, filename: str, media_type: str) -> Response:
    return Response(text, media_type=f"{media_type}; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def encode_state(document: dict[str, Any]) -> str:
    """A problem document as the URL fragment the page reads (base64url of its JSON)."""
    raw = json.dumps(document, separators=(",", ":")).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
