"""handgrad serve: the playground in a browser."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from handgrad.cli.common import (
    PROBLEM_ARGUMENT,
)
from handgrad.errors import HandgradError


@click.command()
@PROBLEM_ARGUMENT
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback opens it to the network.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
def serve(problem: Path | None, port: int, host: str, open_browser: bool) -> None:
    """The playground: watch, edit and step backprop in the browser (a local server)."""
    try:
        import uvicorn

        from handgrad.serve.api import create_app, encode_state
    except ModuleNotFoundError as missing:
        raise HandgradError(
            f"the playground needs {missing.name}: pip install 'handgrad[serve]'"
        ) from None
    from handgrad.problem import load_problem, read_document

    start = None
    if problem is not None:
        load_problem(problem)  # the same clear errors as every command, before starting
        start = read_document(problem)
    if host not in ("127.0.0.1", "localhost", "::1"):
        sys.stderr.write(
            f"handgrad: warning: listening on {host}: anyone who can reach this machine can use"
            " the playground\n"
        )
    address = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{port}/"
    sys.stderr.write(f"handgrad playground on {address}  (Ctrl-C stops it)\n")
    if open_browser:
        import threading
        import webbrowser

        link = address + ("#p=" + encode_state(start) if start else "")
        threading.Timer(1.0, webbrowser.open, (link,)).start()
    try:
        uvicorn.run(create_app(start), host=host, port=port, log_level="warning")
    except OSError as error:
        raise HandgradError(f"cannot listen on {host}:{port} ({error.strerror})") from None
