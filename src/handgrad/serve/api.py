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
from pathlib import Path
from typing import Any, Literal

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from handgrad.core import network, ops
from handgrad.errors import HandgradError
from handgrad.problem import Problem, default_problem_path, read_document, validate_problem

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


def _plain(value: Any) -> Any:
    array = np.asarray(value, dtype=float)
    return float(array) if array.ndim == 0 else array.tolist()


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
            "value": _plain(q.value),
            "note": q.note,
        }
        for q in solution.quantities
    ]
    return {
        "problem": problem.to_dict(),
        "document": _document(problem.to_dict()),  # with the parameters written out
        "solution": solution_to_dict(solution),
        "quantities": quantities,
        "batched": problem.batched,
    }


def step_payload(problem: Problem, steps: int) -> dict[str, Any]:
    """The problem after `steps` gradient steps (core.network), with the loss before each."""
    arch, spec = problem.architecture, problem.spec
    target = problem.y
    if arch.loss == "cross_entropy":
        target = ops.smooth_labels(problem.y, spec.loss.label_smoothing, spec.loss.smoothing)
    params = dict(problem.params)
    losses = []
    for _ in range(steps):
        fwd = network.forward(params, problem.x, target, arch)
        losses.append(float(fwd.loss))
        if not np.isfinite(losses[-1]):
            raise RequestError("the loss became infinite or NaN; lower η or the parameters")
        grads = network.backward(fwd, arch).grads
        params = network.gradient_step(params, grads, spec.optimizer.learning_rate,
                                       spec.optimizer.frozen)
        if not all(np.all(np.isfinite(v)) for v in params.values()):
            raise RequestError("the steps diverged: a parameter became infinite; lower η")
    losses.append(float(network.loss_value(params, problem.x, target, arch)))
    if not np.isfinite(losses[-1]):
        raise RequestError("the loss became infinite or NaN; lower η or the parameters")
    document = problem.to_dict()
    document["params"] = {name: value.tolist() for name, value in params.items()}
    return {"problem": _document(document), "losses": losses}


def _document(as_understood: dict[str, Any]) -> dict[str, Any]:
    """Problem.to_dict() made a valid problem document again (drops read-only extras)."""
    document = {k: v for k, v in as_understood.items() if k != "params_initialised"}
    data = dict(document["data"])
    if data.get("label") is None:
        data.pop("label", None)
    else:
        data.pop("y", None)
    document["data"] = data
    if document.get("title") is None:
        document.pop("title", None)
    return document


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
        from handgrad.grade import Tolerance
        from handgrad.grade import grade as grade_answer

        problem = interactive_problem(request.problem)
        answer: Any = request.answer
        if answer is None:
            answer = _parse_answer(request.answer_text or "")
        report = grade_answer(problem, answer, Tolerance(request.rtol, request.decimals))
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

            return _download(toml_text(_document(problem.to_dict())), f"{name}.toml",
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
        """What this server offers: limits, and whether PDF export works (pdflatex)."""
        import shutil

        return {"limits": LIMITS, "pdf": shutil.which("pdflatex") is not None,
                "max_body_bytes": MAX_BODY_BYTES}

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
