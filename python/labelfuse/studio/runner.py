"""Running the studio: in the foreground (``labelfuse studio``, :func:`serve`) or in a background thread
(:class:`BackgroundStudio`, for notebooks, tests and the screenshot script).

The socket is bound here, before uvicorn starts, so port 0 (any free port) is race-free and the URL printed is the
one that is listening. Only loopback addresses are accepted unless ``allow_remote=True``; the token is required
either way.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
import time
from typing import Any, Optional, Sequence

from .security import new_token
from .server import create_app

__all__ = ["BackgroundStudio", "check_host", "serve"]


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback bind address unless ``allow_remote``: the studio runs the user's Python."""
    if not isinstance(host, str) or not host:
        raise ValueError(f"host: expected an address, got {host!r}")
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise ValueError(f"host: {host!r} is not a loopback address; the studio executes the Python LFs typed into "
                         "it, so anyone who can reach it (and has the token) can run code as you. Pass "
                         "allow_remote=True (--allow-remote) if that is what you want")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"port: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int, token: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


class BackgroundStudio:
    """The studio served from a daemon thread; ``url`` holds the address with the token. Use it as a context
    manager, or call :meth:`stop`.

    Example::

        with BackgroundStudio(ws) as studio:
            print(studio.url)          # http://127.0.0.1:PORT/?token=...
    """

    def __init__(self, workspace: Any, *, host: str = "127.0.0.1", port: int = 0, allow_remote: bool = False,
                 token: Optional[str] = None, class_names: Optional[Sequence[str]] = None, title: str = "") -> None:
        import uvicorn

        check_host(host, allow_remote)
        self.token = token if token is not None else new_token()
        self.app = create_app(workspace, token=self.token, class_names=class_names, title=title)
        self._sock = _bind(host, port)
        self.port = self._sock.getsockname()[1]
        self.host = host
        self.url = _url(host, self.port, self.token)
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="labelfuse-studio", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the studio server did not start")
            time.sleep(0.01)

    @property
    def base(self) -> str:
        """The address without the token."""
        return self.url.split("/?", 1)[0]

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> "BackgroundStudio":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def serve(workspace: Any, *, host: str = "127.0.0.1", port: int = 8765, allow_remote: bool = False,
          class_names: Optional[Sequence[str]] = None, title: str = "", open_browser: bool = False) -> None:
    """Serve the studio until Ctrl-C, printing its URL (with the token).

    Example::

        serve(ws, port=8765)
    """
    import uvicorn

    check_host(host, allow_remote)
    token = new_token()
    app = create_app(workspace, token=token, class_names=class_names, title=title)
    sock = _bind(host, port)
    url = _url(host, sock.getsockname()[1], token)
    print(f"labelfuse studio: open {url}\n(the token in the URL is required; Ctrl-C stops the studio)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
