"""The playground's server: the page, and a JSON API over handgrad's Python API.

Every number the page shows comes from here: the solver, the derivation, the grader, the
generator and the core's gradient steps. The page computes nothing.

Safety (see the README's security section):
- whom it answers: only requests addressed to the names it was started for (`hosts`: loopback
  and `--host`), so a web page whose name is rebound to 127.0.0.1 gets 421, and a POST whose
  `Origin` is another site's gets 403 (a missing Origin, as curl sends, is allowed); every
  answer carries a Content-Security-Policy that lets the page load only its own files and
  refuses framing;
- what it reads: problems arrive as JSON documents (never file paths), bodies are capped at
  `MAX_BODY_BYTES`, and a client has `REQUEST_SECONDS` to send a whole request;
- how long it works: problems are bounded for interactive use (`LIMITS`, the derivation's from
  measured cost), and the work runs in threads of its own with a time limit (`Worker`), so a
  request is answered within seconds and the server keeps answering others meanwhile. Every
  bad request gets a 4xx with the message the command line would print.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import mimetypes
import threading
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field, StringConstraints

from handgrad.core import network
from handgrad.core.activations import ACTIVATIONS, OUTPUTS
from handgrad.errors import HandgradError
from handgrad.limits import DERIVE_MAX_DEPTH, DERIVE_MAX_UNITS
from handgrad.problem import Problem, default_problem_path, read_document, validate_problem
from handgrad.solution import plain
from handgrad.text import shown

if TYPE_CHECKING:
    import uvicorn

T = TypeVar("T")
STATIC = Path(__file__).parent / "static"
KATEX = Path(__file__).parent.parent / "render" / "katex"
MAX_BODY_BYTES = 256 * 1024
LIMITS = {
    "layers": 8,  # sizes d, n1, ..., q: at most 8 of them
    "units": 64,  # per layer
    "batch": 32,  # instances
    "steps": 500,  # gradient steps per request
    # the derivation (sympy) and the reports that carry it: handgrad.limits, from their cost
    "derive_depth": DERIVE_MAX_DEPTH,  # weight layers
    "derive_units": DERIVE_MAX_UNITS,  # units per layer there
    "generate_draws": 500,  # tries for one generated problem
}
SECONDS = {
    "work": 10.0,  # a request's work: solving, stepping, grading, generating (well under 1 s)
    "derive": 30.0,  # a derivation or a report (under 10 s at the limits, on a quiet machine)
    "request": 10.0,  # for a client to send a whole request, headers and body
    "keep_alive": 5.0,  # an idle connection is closed after this
}
DERIVE_SLOTS = 2  # derivations and reports at once (sympy holds the interpreter: 2 share it)
WORK_THREADS = 8
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
# The page loads its own modules, styles and KaTeX's fonts from /static and nothing else; its
# favicon is the empty data: URL. KaTeX sets styles through the DOM (el.style), which a CSP
# allows, so no inline script or style is needed. frame-ancestors and X-Frame-Options (for
# older browsers) refuse framing: no clickjacking of the page's buttons.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; font-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    # the page's fetch() calls (mode "cors") still send its Origin under no-referrer; an HTML
    # form's POST would send `Origin: null`, which HostGuard refuses: the page has no forms
    (b"referrer-policy", b"no-referrer"),
]
# the choices of network.activation and network.output, as the page's menus show them
FUNCTIONS = {
    kind: [{"name": name, "label": rule.label, "text": rule.text, "latex": rule.latex}
           for name, rule in table.items()]
    for kind, table in (("activations", ACTIVATIONS), ("outputs", OUTPUTS))
}
DERIVATIONS_KEPT = 16  # derivations cached (by architecture), oldest dropped first
EXAMPLES = ("homework3.toml", "deep_batch.toml", "regression.toml")


MAX_FORMULA_CHARS = 2000  # one formula of Problem 1, as typed


class ProblemRequest(BaseModel):
    problem: dict[str, Any] = Field(description="A problem document, as in a problem file")


class StepRequest(ProblemRequest):
    steps: int = Field(1, ge=1, le=LIMITS["steps"])


Formula = Annotated[str, StringConstraints(max_length=MAX_FORMULA_CHARS)]


class GradeRequest(ProblemRequest):
    answer: dict[str, Any] | None = Field(None, description="Quantities by section and name")
    answer_text: str | None = Field(None, max_length=64_000, description="TOML or JSON text")
    rtol: float = Field(1e-3, gt=0, le=1)
    decimals: int | None = Field(None, ge=0, le=15)
    derivation: dict[str, Formula] | None = Field(
        None, max_length=64, description="Problem 1's formulas by gradient name (dW1 = "
        "\"outer(x, dh1)\"), NumPy-like or LaTeX; blank ones are not given. They join (and "
        "override) the answer's own [derivation] section")
    syntax: Literal["numpy", "latex"] | None = Field(
        None, description="How every formula is written; none: detected formula by formula")


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
    chunked upload, as soon as the bytes received pass the limit (not after reading it all);
    and a body that has not all arrived within `seconds` (408), whatever server runs the app."""

    def __init__(self, app: Any, limit: int, seconds: float) -> None:
        self.app = app
        self.limit = limit
        self.seconds = seconds

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(scope, receive, send, 413, f"request body over {self.limit} bytes")
            return
        # read the body here, at most `limit` bytes of it, then hand it on in one piece
        body = b""
        try:
            async with asyncio.timeout(self.seconds):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # the client went away: nobody to answer
                    body += message.get("body", b"")
                    if len(body) > self.limit:
                        await _refuse(scope, receive, send, 413,
                                      f"request body over {self.limit} bytes")
                        return
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _refuse(scope, receive, send, 408,
                          f"the request body did not arrive within {self.seconds:g} s")
            return
        delivered = False

        async def replay() -> Any:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _refuse(scope: Any, receive: Any, send: Any, status: int, message: str) -> None:
    """Answer `status` with `message` and close the connection: what the client sent is not
    read further (a body left unread would be taken for the next request)."""
    response = JSONResponse({"error": message}, status, headers={"Connection": "close"})
    await response(scope, receive, send)


class HostGuard:
    """ASGI middleware against DNS rebinding and cross-site requests.

    A page on another site can rebind its own name to 127.0.0.1 and then read this server's
    answers as same-origin: its requests still say `Host: <its name>`, so a Host that is not
    one of `hosts` gets 421 before anything runs. A page on another site can also POST here
    directly (a form, or fetch without reading the answer): its browser says so in `Origin`,
    so a POST whose Origin is not this server's gets 403. A missing Origin is allowed:
    browsers always send one on a POST, and tools such as curl never do.
    """

    SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

    def __init__(self, app: Any, hosts: Collection[str]) -> None:
        self.app = app
        self.allowed = [parsed for parsed in map(_host_and_port, hosts) if parsed is not None]
        self.hosts = ", ".join(hosts)

    def allows(self, host: str) -> bool:
        """Whether a Host header (or an Origin's host) names this server: a host without a
        port is at HTTP's 80, and an allowed name without a port matches any port."""
        parsed = _host_and_port(host)
        if parsed is None:
            return False
        name, port = parsed
        return any(name == allowed and want in (None, port or 80)
                   for allowed, want in self.allowed)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1")
                   for name, value in scope["headers"]}
        host = headers.get("host", "")
        if not self.allows(host):
            await _refuse(scope, receive, send, 421,
                          f"this server answers requests for {self.hosts} only, not for "
                          f"{shown(host) if host else 'no Host'} (handgrad serve --allow-host "
                          "NAME adds a name)")
            return
        origin = headers.get("origin")
        if origin is not None and scope["method"] not in self.SAFE_METHODS:
            scheme, _, origin_host = origin.partition("://")
            if scheme not in ("http", "https") or not self.allows(origin_host):
                await _refuse(scope, receive, send, 403,
                              f"a request from the page of another site ({shown(origin)}) is "
                              "refused: use the playground's own page")
                return
        await self.app(scope, receive, send)


def _host_and_port(host: str) -> tuple[str, int | None] | None:
    """`name:port`, `[v6]:port` or a name alone (port None) as (lower-case name, port); None
    for anything else."""
    host = host.strip().lower()
    if host.startswith("["):
        name, bracket, port = host.partition("]")
        name += bracket
        if port and not port.startswith(":"):
            return None
        port = port[1:]
    elif host.count(":") == 1:
        name, _, port = host.partition(":")
    else:
        name, port = host, ""
    if not name:
        return None
    if not port:
        return name, None
    if not port.isascii() or not port.isdigit() or len(port) > 5:
        return None
    return name, int(port)


def allowed_hosts(host: str, port: int, more: Iterable[str] = ()) -> tuple[str, ...]:
    """The Host values a server listening on `host`:`port` answers: the loopback names, the
    address it was started for, and `more` (names from --allow-host), each with the port."""
    found = []
    for name in (*LOOPBACK_NAMES, host, *more):
        bare = name.strip().lower().removeprefix("[").removesuffix("]")
        try:
            written = f"[{bare}]" if ipaddress.ip_address(bare).version == 6 else bare
        except ValueError:
            written = bare
        found.append(f"{written}:{port}")
    return tuple(dict.fromkeys(found))


class SecurityHeaders:
    """ASGI middleware: SECURITY_HEADERS on every answer, the refusals included."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                given = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in given]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


class Worker:
    """Work for requests in threads of its own, each request answered within `seconds`.

    The event loop only waits, so the server answers other requests meanwhile. A thread cannot
    be stopped: work that overruns gets its request a 504 and runs on to its end unwatched.
    With `slots`, at most that many run at once, counted until they really end (an overrun
    keeps its slot), and a request finding none free gets 503 at once rather than piling more
    work on a busy machine; without, requests queue for the threads, and one still waiting
    when its time is up gets 503 and never runs.
    """

    def __init__(self, what: str, threads: int, seconds: float, slots: bool = False) -> None:
        self.what = what
        self.threads = threads
        self.seconds = seconds
        self._slots = threading.BoundedSemaphore(threads) if slots else None
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix=f"handgrad-{what}")

    async def run(self, work: Callable[[], T],
                  overrun: str = "make the problem smaller") -> T:
        """`work()`'s answer, or a RequestError with 503 (busy) or 504 (overran; the message
        ends with `overrun`, what to do about it)."""
        if self._slots is not None and not self._slots.acquire(blocking=False):
            raise RequestError(f"the server is already running {self.threads} {self.what}s, "
                               "the most it runs at once; try again in a few seconds", 503)
        started = threading.Event()

        def task() -> T:
            started.set()
            return work()

        future = self._pool.submit(task)
        if self._slots is not None:
            slots = self._slots
            future.add_done_callback(lambda _: slots.release())  # also when cancelled unrun
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.seconds)
        except TimeoutError:
            if not started.is_set():
                raise RequestError(f"the server is busy: the {self.what} did not start within "
                                   f"{self.seconds:g} s; try again in a few seconds",
                                   503) from None
            raise RequestError(f"the {self.what} took longer than {self.seconds:g} s, the most "
                               f"this server gives one request; {overrun}", 504) from None


def server_for(app: Any, request_seconds: float = SECONDS["request"],
               keep_alive_seconds: float = SECONDS["keep_alive"]) -> uvicorn.Server:
    """A uvicorn server for `app` that closes a connection whose request has not fully
    arrived `request_seconds` after it opened (or after the previous answer on it). Run it
    with `.run(sockets=[socket])` on a socket already listening."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", timeout_keep_alive=int(keep_alive_seconds),
                            http=_request_deadline(request_seconds))
    return uvicorn.Server(config)


def _request_deadline(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol with a deadline on receiving each request.

    uvicorn times out idle keep-alive connections only: the first bytes of a request cancel
    that timer, so a client sending half a request (a slowloris) holds its connection forever.
    The deadline starts when the connection opens or an answer ends, and is lifted once the
    whole request (headers and body) has arrived; the handler's own time is bounded by the
    Worker.
    """
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class RequestDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)  # type: ignore[arg-type]
            self._follow()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._follow()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._follow()

        def connection_lost(self, exc: Exception | None) -> None:
            self._lift()
            super().connection_lost(exc)

        def _follow(self) -> None:
            """Start the clock while a request is awaited or arriving, stop it once it is in;
            more bytes of the same request do not restart it."""
            waiting = self.conn.their_state in (h11.IDLE, h11.SEND_BODY)
            if waiting and self._deadline is None and not self.transport.is_closing():
                self._deadline = self.loop.call_later(seconds, self._expired)
            elif not waiting:
                self._lift()

        def _lift(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return RequestDeadline


def _check_derivable(problem: Problem) -> None:
    """Derivations are measured to take seconds up to `limits.derive_limit`'s sizes: refuse up
    front, with the limits, what is past them."""
    from handgrad.limits import derive_limit

    reason = derive_limit(problem)
    if reason is not None:
        raise RequestError(f"{reason}; the derivation and the reports are offered here up to it")


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
        "derivatives": _derivatives(problem, quantities),
        "formulas": _formula_names(problem),
    }


def _formula_names(problem: Problem) -> list[dict[str, Any]]:
    """Problem 1's gradients, in backward order, for the page's derivation part: the name the
    grader reads, whether the problem asks for it (∂L/∂W, ∂L/∂b) or it is a step, its symbol."""
    from handgrad.grade.derivation import derivation_names, gradient_symbol, is_asked
    from handgrad.grade.formula import name_latex

    return [{"name": name, "asked": is_asked(name), "symbol": gradient_symbol(name),
             "symbol_latex": name_latex(name)} for name in derivation_names(problem)]


def _derivatives(problem: Problem, quantities: list[dict[str, Any]]) -> dict[str, Any]:
    """f′(h) of each hidden layer, entry by entry (the factor in ∂L/∂h = ∂L/∂a ⊙ f′(h)), from
    the core's activation table at the solution's h and a: the page's tooltip shows it
    evaluated at a unit ("ReLU′(2) = 1") and never computes it."""
    from handgrad.core import ops

    act = problem.architecture.hidden
    rule = act.rule
    values = {q["key"]: q["value"] for q in quantities if q["section"] == "forward"}
    found = {}
    for layer in range(1, problem.architecture.depth):
        h = np.asarray(values[f"h{layer}"], dtype=float)
        a = np.asarray(values[f"a{layer}"], dtype=float)
        found[f"h{layer}"] = {
            "name": f"{rule.text or 'f'}′",
            "name_latex": f"{rule.latex or 'f'}'",
            "value": plain(ops.activation_derivative(ops.ActivationCache(h, a), act)),
        }
    return found


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


def create_app(start: dict[str, Any] | None = None, *,
               hosts: Collection[str] = LOOPBACK_NAMES,
               seconds: dict[str, float] | None = None) -> FastAPI:
    """The application. `start` is the problem document the page opens on (default: seed);
    `hosts` the Host names it answers (see `allowed_hosts`; a name without a port matches any
    port); `seconds` overrides entries of SECONDS (the time limits)."""
    from handgrad import __version__

    start_document = start or read_document(default_problem_path())
    limits = {**SECONDS, **(seconds or {})}
    app = FastAPI(
        title="handgrad playground",
        version=__version__,
        description="Backpropagation worked by hand and checked by machine: the playground's "
        f"JSON API. Problems are bounded for interactive use: {LIMITS}; time limits in "
        f"seconds: {limits}.",
        # the interactive docs load Swagger UI from a CDN with inline script, which the
        # Content-Security-Policy refuses (and a local tool should not fetch); the
        # description stays at /openapi.json
        docs_url=None,
        redoc_url=None,
    )
    work = Worker("request", WORK_THREADS, limits["work"])
    slow = Worker("derivation", DERIVE_SLOTS, limits["derive"], slots=True)
    derivations: dict[str, Any] = {}  # by architecture: the sympy check takes seconds
    derivations_lock = threading.Lock()

    # the last added runs first: headers on every answer, then the Host and Origin check
    # before any body is read
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, seconds=limits["request"])
    app.add_middleware(HostGuard, hosts=tuple(hosts))
    app.add_middleware(SecurityHeaders)

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
    async def solve(request: ProblemRequest) -> dict[str, Any]:
        """Every quantity of the worked solution, with formulas, and the gradient checks."""
        return await work.run(lambda: solve_payload(interactive_problem(request.problem)))

    @app.post("/api/step")
    async def step(request: StepRequest) -> dict[str, Any]:
        """The problem after N gradient-descent steps, and the loss before each and after."""
        return await work.run(
            lambda: step_payload(interactive_problem(request.problem), request.steps))

    @app.post("/api/derive")
    async def derive(request: ProblemRequest) -> dict[str, Any]:
        """The derivation of every gradient for the problem's architecture (sympy-verified)."""
        problem = await work.run(lambda: interactive_problem(request.problem))
        _check_derivable(problem)
        # the derivation states the title, ε, the conventions and the sizes (B too): all of the
        # problem but its numbers
        document = problem.to_dict()
        document.pop("params", None)
        document["data"] = problem.batch_size if problem.batched else None
        signature = json.dumps(document, sort_keys=True, default=str)
        with derivations_lock:
            if signature in derivations:
                return derivations[signature]

        def derive_and_keep() -> dict[str, Any]:
            # kept by the thread, not the request: one that overran still leaves its answer
            answer = _derivation(problem)
            with derivations_lock:
                if len(derivations) >= DERIVATIONS_KEPT:
                    derivations.pop(next(iter(derivations)))
                derivations[signature] = answer
            return answer

        return await slow.run(derive_and_keep, overrun="it goes on and is kept: ask again in "
                              "a minute (a busy machine is slower)")

    @app.post("/api/grade")
    async def grade(request: GradeRequest) -> dict[str, Any]:
        """The grader's verdict on each quantity of an answer."""
        return await work.run(lambda: grade_payload(request))

    @app.post("/api/generate")
    async def generate(request: GenerateRequest) -> dict[str, Any]:
        """A fresh problem, well posed for hand calculation."""
        return await work.run(lambda: generate_payload(request))

    @app.post("/api/export")
    async def export(request: ExportRequest) -> Response:
        """The problem as TOML, its solution as JSON, or the report as HTML or PDF."""
        problem = await work.run(lambda: interactive_problem(request.problem))
        if request.format in ("toml", "json"):
            return await work.run(lambda: export_file(problem, request.format))
        _check_derivable(problem)  # a report carries the derivation
        return await slow.run(lambda: export_file(problem, request.format))

    @app.get("/api/capabilities")
    def capabilities() -> dict[str, Any]:
        """What this server offers: limits (sizes, and seconds: see SECONDS), whether PDF export
        works (pdflatex), and the hidden activations and output functions with how they are
        written (core.activations)."""
        import shutil

        return {"limits": LIMITS, "seconds": limits,
                "pdf": shutil.which("pdflatex") is not None,
                "max_body_bytes": MAX_BODY_BYTES, "activations": FUNCTIONS["activations"],
                "outputs": FUNCTIONS["outputs"]}

    # a module script with any type but JavaScript's is refused by the browser, and the
    # operating system's table (the Windows registry, say) may not know .mjs
    mimetypes.add_type("text/javascript", ".mjs")
    app.mount("/static/katex", StaticFiles(directory=KATEX), name="katex")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _derivation(problem: Problem) -> dict[str, Any]:
    from handgrad.derive.steps import derive

    return derive(problem).to_dict()


def grade_payload(request: GradeRequest) -> dict[str, Any]:
    """The grader's report on the request's answer (given as a table or as text)."""
    from handgrad.grade import Tolerance, grade_document

    problem = interactive_problem(request.problem)
    formulas = {name: text for name, text in (request.derivation or {}).items() if text.strip()}
    answer = request.answer
    if answer is None:
        text = request.answer_text or ""
        answer = {} if formulas and not text.strip() else _parse_answer(text)
    if formulas:  # the form's formulas join the answer's own [derivation] section
        own = answer.get("derivation")
        answer = {**answer, "derivation": {**(own if isinstance(own, dict) else {}),
                                           **formulas}}
    decimals: int | Literal["auto"] = (
        "auto" if request.decimals is None else request.decimals  # as the command line
    )
    report = grade_document(problem, answer, Tolerance(request.rtol, decimals),
                            syntax=request.syntax)
    return report.to_dict()


def generate_payload(request: GenerateRequest) -> dict[str, Any]:
    """One generated problem, titled with its seed."""
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


def export_file(problem: Problem, format: str) -> Response:
    """The problem as TOML, its solution as JSON, or the report (derivation and worked step)
    as HTML or PDF, as a download."""
    name = "problem" if not problem.spec.title else _slug(problem.spec.title)
    if format == "toml":
        from handgrad.generate import toml_text

        return _download(toml_text(_editable_document(problem)), f"{name}.toml",
                         "application/toml")
    if format == "json":
        from handgrad.solver import solve as solve_problem

        return _download(solve_problem(problem).to_json(), f"{name}.json", "application/json")
    from handgrad.render.report import report_blocks

    blocks = report_blocks(*_report_parts(problem))
    if format == "html":
        from handgrad.render.html import write_html

        return _download(write_html(blocks, f"handgrad: {problem.name}"), f"{name}.html",
                         "text/html")
    from handgrad.render.document import Figure
    from handgrad.render.latex import compile_pdf, write_latex

    files = {b.name: b.png for b in blocks if isinstance(b, Figure)}
    pdf = compile_pdf(write_latex(blocks), files)
    return Response(pdf, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})


def _report_parts(problem: Problem) -> tuple[Any, Any]:
    """The report's derivation and worked step (`report_solution`: exact numbers only where
    they come in about a second)."""
    from handgrad.derive.answer import report_solution

    return report_solution(problem)


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
