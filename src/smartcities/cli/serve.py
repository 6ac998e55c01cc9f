"""The `serve` command: a published folder's site and REST API over HTTP, with uvicorn."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from ..errors import InputError
from .app import app, console, user_errors


@app.command()
@user_errors
def serve(folder: Path = typer.Argument(..., help="A published folder (`smartcities publish … --out DIR`)."),
          host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every interface)."),
          port: int = typer.Option(8000, min=0, max=65535, help="Port to listen on (0: any free port)."),
          token_file: Path = typer.Option(None, "--token-file", help="A file holding the token that the API's "
                                          "write (POST /api/v1/reload) needs; without it that write is open."),
          sensors: Path = typer.Option(None, "--sensors", help="A sensor store to serve read-only as a "
                                       "SensorThings API under /sta/v1.1 (with /sta/v1.1/latest).")):
    """Serve DIR/site and the REST API under /api/v1 (OpenAPI at /openapi.json, interactive docs at /docs)."""
    from ..online.api import create_app, read_token

    token = read_token(token_file) if token_file is not None else None
    web = create_app(folder, token, sensors)
    sock = listening(host, port)
    import uvicorn

    bound = sock.getsockname()[1]
    console.print(f"serving {web.title.removesuffix(' API')} from {folder} at http://{host}:{bound}/ (API under "
                  f"/api/v1, docs at /docs{', writes need the token' if token else ''}); Ctrl-C stops",
                  markup=False, highlight=False, soft_wrap=True)
    server = uvicorn.Server(uvicorn.Config(web, log_level="warning", access_log=False))
    server.run(sockets=[sock])


def listening(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, so that a port in use is one clear error before anything is served."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as err:
        raise InputError.single("--host", f"{host!r} is not an address to listen on ({err.strerror})") from None
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # connections inherit it: no 40 ms Nagle stalls
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise InputError.single("--port", f"cannot listen on {host}:{port}: {err.strerror}; choose another port "
                                "with --port (0: any free one)") from None
    sock.listen(2048)
    return sock
