"""handgrad serve: the playground in a browser."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys
from pathlib import Path

import click

from handgrad.cli.common import (
    PROBLEM_ARGUMENT,
)
from handgrad.errors import HandgradError
from handgrad.text import quoted


@click.command()
@PROBLEM_ARGUMENT
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
              help="The port to listen on (0: any free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on; anything but loopback opens it to the network.")
@click.option("--allow-host", "allow_hosts", multiple=True, metavar="NAME",
              help="Also answer requests addressed to NAME (the server answers only its "
              "loopback names and --host, against DNS rebinding); repeatable.")
@click.option("--open", "open_browser", is_flag=True, help="Open the page in a browser.")
def serve(problem: Path | None, port: int, host: str, allow_hosts: tuple[str, ...],
          open_browser: bool) -> None:
    """The playground: watch, edit and step backprop in the browser (a local server).

    It answers only requests addressed to 127.0.0.1, localhost, [::1] or --host (and
    --allow-host), refuses POSTs from other sites' pages, and bounds every request's size and
    time (the limits are listed at /api/capabilities).
    """
    try:
        from handgrad.serve.api import allowed_hosts, create_app, encode_state, server_for
    except ModuleNotFoundError as missing:
        raise HandgradError(
            f"the playground needs {missing.name}: pip install 'handgrad[serve]'"
        ) from None
    from handgrad.problem import load_problem, read_document

    start = None
    if problem is not None:
        load_problem(problem)  # the same clear errors as every command, before starting
        start = read_document(problem)
    listening = _listen(host, port)
    bound, port = listening.getsockname()[:2]
    if not _is_loopback(bound):
        sys.stderr.write(
            f"handgrad: warning: listening on {host}: anyone who can reach this machine can use"
            " the playground (it answers requests addressed to "
            f"{', '.join(allowed_hosts(host, port, allow_hosts))})\n"
        )
    name = "localhost" if host in ("127.0.0.1", "::1") else host
    address = f"http://{f'[{name}]' if ':' in name else name}:{port}/"
    sys.stderr.write(f"handgrad playground on {address}  (Ctrl-C stops it)\n")
    sys.stderr.flush()  # a script waiting for the address reads it now
    if open_browser:
        import threading
        import webbrowser

        link = address + ("#p=" + encode_state(start) if start else "")
        threading.Timer(1.0, webbrowser.open, (link,)).start()
    app = create_app(start, hosts=allowed_hosts(host, port, allow_hosts))
    with listening:
        server_for(app).run(sockets=[listening])


def _listen(host: str, port: int) -> socket.socket:
    """A socket listening on host:port, or the reason it cannot be had as a HandgradError
    (uvicorn would log the error and exit 1 on its own)."""
    bare = host.removeprefix("[").removesuffix("]")
    where = f"[{bare}]:{port}" if ":" in bare else f"{bare}:{port}"
    try:
        family = socket.AF_INET6 if ":" in bare else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
    except OSError as error:
        raise HandgradError(f"cannot listen on {where}: {error.strerror}") from None
    try:
        # as uvicorn does: a port whose last connections are still closing can be taken
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((bare, port))
        listening.listen(2048)
    except socket.gaierror:
        listening.close()
        raise HandgradError(f"cannot listen on {quoted(host)}: no such address; give an IP"
                            " address or a name of this machine to --host") from None
    except OSError as error:
        listening.close()
        reason = error.strerror or str(error)
        if error.errno == errno.EADDRINUSE:
            reason = ("the port is in use (another playground, or another program); choose "
                      "another with --port, or --port 0 for any free one")
        raise HandgradError(f"cannot listen on {where}: {reason}") from None
    return listening


def _is_loopback(address: str) -> bool:
    """Whether a bound address is loopback: all of 127.0.0.0/8, ::1, and ::ffff:127.x.y.z."""
    try:
        parsed = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback

