"""The control socket: `sim` commands calling a model that lives in its backend process.

A request is `(attribute path, args, kwargs)`, e.g. `("link_up", (1000,),
{})` or `("regs.dump", (), {})`, sent with `multiprocessing.connection`
over a unix socket in the instance's directory; the answer is `("ok",
result)` or `("error", exception)`. Each client gets its own thread, so a
long command (a slow link flap) does not hold up another.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping
from multiprocessing.connection import Client, Connection, Listener
from pathlib import Path
from typing import Any

from ..closing import Closing
from ..errors import SimulatorError

#: Keeps other local users' processes from driving the model; the socket's
#: directory is private already, this also rejects a stray connection.
AUTHKEY = b"umlharness-pci-control"
#: How long a call waits for the model's answer: longer than any model call
#: takes (a slow link flap), short enough that a wedged backend fails the run.
CALL_TIMEOUT = 300.0


#: What a client asks of the backend itself, not of the model (names no model has).
STEP = "@step"
UNPLUG = "@unplug"


class ControlServer(Closing):
    """Serves calls on `target()` at `path` from a daemon thread; `own` answers the
    requests for the backend itself (STEP)."""

    def __init__(
        self,
        path: Path,
        target: Callable[[], Any],
        own: Mapping[str, Callable[..., Any]] | None = None,
        lock: threading.RLock | None = None,
    ) -> None:
        self.path = path
        self._target = target
        self._own = dict(own or {})
        #: Held around each call when given: a board's models share one lock with
        #: the devices serving them (simulators/virtio/board.py).
        self._lock = lock if lock is not None else contextlib.nullcontext()
        self._listener = Listener(str(path), family="AF_UNIX", authkey=AUTHKEY)
        self._thread = threading.Thread(target=self._accept_loop, name="control", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                conn = self._listener.accept()
            except (OSError, EOFError):
                return  # closed
            except Exception:  # a client that failed authentication: keep serving
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            while True:
                try:
                    path, args, kwargs = conn.recv()
                except (EOFError, OSError):
                    return
                try:
                    with self._lock:
                        call = self._own.get(path) or resolve(self._target(), path)
                        answer = ("ok", call(*args, **kwargs))
                except Exception as error:  # sent back, raised again in the client
                    answer = ("error", error)
                try:
                    conn.send(answer)
                except OSError:
                    return  # a client that stopped waiting (RemoteModel's timeout)

    def close(self) -> None:
        self._listener.close()


def resolve(target: Any, path: str) -> Callable[..., Any]:
    obj = target
    for part in path.split("."):
        if part.startswith("_"):
            raise SimulatorError(f"{path}: private attributes are not reachable")
        try:
            obj = getattr(obj, part)
        except AttributeError:
            # A collection of models (an I2C bus by address): `i2c.0x48.temperature`.
            if not hasattr(type(obj), "__getitem__"):
                raise SimulatorError(f"the model has no {path!r}") from None
            try:
                obj = obj[part]
            except KeyError:
                raise SimulatorError(f"the model has no {path!r}") from None
    if not callable(obj):
        raise SimulatorError(f"{path!r} is not a method of the model")
    return obj  # type: ignore[no-any-return]


class RemoteModel(Closing):
    """A model in a backend process, called as if it were here: `remote.link_up(1000)`."""

    def __init__(self, path: Path, prefix: str = "", timeout: float = CALL_TIMEOUT) -> None:
        self._path = path
        self._prefix = prefix
        self._timeout = timeout
        self._conn: Connection | None = None

    def _connection(self) -> Connection:
        if self._conn is None:
            try:
                self._conn = Client(str(self._path), family="AF_UNIX", authkey=AUTHKEY)
            except (FileNotFoundError, ConnectionRefusedError):
                raise SimulatorError(
                    f"no PCI backend listens on {self._path}: is the instance still running?"
                ) from None
        return self._conn

    def call(self, path: str, *args: Any, **kwargs: Any) -> Any:
        conn = self._connection()
        try:
            conn.send((path, args, kwargs))
            if not conn.poll(self._timeout):
                self.close()  # its answer, if it ever comes, is no one's
                raise SimulatorError(
                    f"the PCI backend at {self._path} did not answer {path}() within "
                    f"{self._timeout:g}s (its log is beside the socket)"
                )
            status, value = conn.recv()
        except (EOFError, OSError):
            raise SimulatorError(f"the PCI backend at {self._path} went away") from None
        if status == "error":
            raise value
        return value

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        full = f"{self._prefix}{name}"
        return _RemoteAttribute(self, full)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def mark_step(control: Path, index: int, command: str) -> None:
    """Tell the backend at `control` that the guest starts command `index` of a
    workload: its trace records it, a replay makes what the device did before it."""
    with RemoteModel(control) as backend:
        backend.call(STEP, index, command)


def unplug(control: Path) -> None:
    """Pull the device of the backend at `control` out of its guest (surprise removal)."""
    with RemoteModel(control) as backend:
        backend.call(UNPLUG)


class _RemoteAttribute:
    """`remote.regs` (to reach `remote.regs.dump()`) or `remote.link_up` (to call it)."""

    def __init__(self, model: RemoteModel, path: str) -> None:
        self._model = model
        self._path = path

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._model.call(self._path, *args, **kwargs)

    def __getattr__(self, name: str) -> _RemoteAttribute:
        if name.startswith("_"):
            raise AttributeError(name)
        return _RemoteAttribute(self._model, f"{self._path}.{name}")
