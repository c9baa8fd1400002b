"""`umlharness exec`: run a command in a guest whose console another process holds.

The process that booted a guest without a terminal (`umlharness boot`, console
mode) owns its console. It serves requests on `<instance dir>/exec.sock`
(mode 0600) from a thread, which is then the console's only reader: it
runs each command through `Instance.run` and, between commands, reads what
the console says and watches for a crash (`Instance.pump`). The main thread
only waits for that thread to end. A lock keeps one user of the console at
a time: commands run one after another, and `stop` takes the console back
before it powers the guest off.

One request per connection, JSON on one line each way:

    client: {"command": "ls /", "timeout": 300}
    server: {"exit_code": 0, "output": "..."}
         or {"error": "...", "console_tail": "...", "log": "..."}
"""

from __future__ import annotations

import json
import os
import select
import shlex
import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from umlharness_shared import registry
from umlharness_shared.registry import InstanceInfo
from umlharness_shared.sockets import check_socket_path

from . import validate
from .errors import BootTimeout, GuestError, GuestExited, HarnessError
from .instance import Instance
from .shell import RunResult

#: `umlharness exec --timeout` default, as `boot --run`'s.
DEFAULT_TIMEOUT = 300.0
#: How often the serving thread looks at the console and the stop flag.
POLL_SECONDS = 0.2
#: A client has this long to send its request; the reply this long per write.
REQUEST_SECONDS = 5.0
#: How long the shell may take to answer again after a timed-out command's Ctrl-C.
INTERRUPT_SECONDS = 5.0
#: What a client waits beyond its command's timeout: the crash check, the interrupt.
REPLY_GRACE_SECONDS = INTERRUPT_SECONDS + 10.0
CONNECT_SECONDS = 5.0
MAX_REQUEST = 1 << 20


def command_line(words: Sequence[str]) -> str:
    """The shell command for `exec CMD...`: one argument is a command line as it
    is (like `boot --run`); several are words, each quoted."""
    if len(words) == 1:
        return words[0]
    return shlex.join(words)


# -- the server, in the process that owns the console ---------------------------------


class ExecServer:
    """Serves `umlharness exec` for `instance` from a thread; see the module's docstring."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self.path = instance.dir / registry.EXEC_SOCKET
        check_socket_path(self.path, "exec socket")
        #: Held by whoever uses the console: a request, the serving thread's pump, stop().
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._console_taken = False  # by stop(), for good
        self._handlers: list[threading.Thread] = []
        self._error: BaseException | None = None
        self._listener = _listen(self.path)
        self._thread = threading.Thread(target=self._serve, name="uml-exec", daemon=True)

    def start(self) -> None:
        self._thread.start()
        registry.set_console(self._instance.dir, registry.CONSOLE_EXEC)

    def wait(self) -> None:
        """Until the guest exits: return if it powered off, raise what ended it otherwise."""
        while self._thread.is_alive():
            # A bounded join: SIGTERM's handler (SystemExit) runs in between.
            self._thread.join(POLL_SECONDS)
        # A request that saw the end (a crash, say) is still sending its answer:
        # this process must not exit under it.
        deadline = time.monotonic() + REQUEST_SECONDS
        for handler in self._handlers:
            handler.join(max(0.0, deadline - time.monotonic()))
        if self._error is not None:
            raise self._error

    def stop(self, timeout: float) -> bool:
        """Stop serving and keep the console for the caller. False if a command
        still held it after `timeout` seconds: then the console is not the caller's."""
        if self._console_taken:
            return True
        deadline = time.monotonic() + timeout
        self._stopping.set()
        self._thread.join(timeout)
        remaining = max(0.0, deadline - time.monotonic())
        self._console_taken = self._lock.acquire(timeout=remaining)
        return self._console_taken

    def _serve(self) -> None:
        try:
            self._loop()
        except BaseException as error:  # the main thread raises it
            self._error = error
        finally:
            self._listener.close()
            with suppress(OSError):
                self.path.unlink()

    def _loop(self) -> None:
        listener, console = self._listener.fileno(), self._instance.console_fileno()
        while not self._stopping.is_set():
            try:
                readable, _, _ = select.select([listener, console], [], [], POLL_SECONDS)
            except (OSError, ValueError):
                readable = []  # the console was closed under us: the check below says why
            if listener in readable:
                connection, _ = self._listener.accept()
                handler = threading.Thread(
                    target=self._handle, args=(connection,), name="uml-exec-request", daemon=True
                )
                handler.start()
                self._handlers = [h for h in self._handlers if h.is_alive()] + [handler]
            if not self._lock.acquire(timeout=POLL_SECONDS):
                continue  # a command runs; it reads the console meanwhile
            try:
                if self._stopping.is_set() or self._error is not None:
                    return
                if not self._instance.pump(0):
                    return
            finally:
                self._lock.release()

    def _handle(self, connection: socket.socket) -> None:
        with connection:
            try:
                reply = self._answer(connection)
            except Exception as error:  # a client must get one line, never a silent hang
                reply = {"error": f"exec failed in its server: {type(error).__name__}: {error}"}
            with suppress(OSError):
                connection.settimeout(REQUEST_SECONDS)
                connection.sendall(json.dumps(reply).encode() + b"\n")

    def _answer(self, connection: socket.socket) -> dict[str, Any]:
        connection.settimeout(REQUEST_SECONDS)
        if _peer_uid(connection) != os.getuid():
            return {"error": "exec requests are taken from this user only"}
        try:
            command, timeout = _parse_request(_read_all(connection, MAX_REQUEST))
        except (OSError, HarnessError) as error:
            return {"error": f"bad exec request: {error}"}
        deadline = time.monotonic() + timeout
        stopping = {"error": f"instance {self._instance.umid} is stopping"}
        # In slices: a stop that takes the console for good is noticed at once.
        while not self._lock.acquire(timeout=POLL_SECONDS):
            if self._stopping.is_set():
                return stopping
            if time.monotonic() >= deadline:
                return {"error": f"the console was busy with another exec for {timeout:g}s"}
        try:
            if self._stopping.is_set() or self._error is not None or not self._instance.alive:
                return stopping
            remaining = max(deadline - time.monotonic(), 0.05)
            result = self._instance.run(command, timeout=remaining)
        except BootTimeout as expired:
            # In the user's words: the --timeout they gave, not what was left of it.
            expired.args = (f"run {command!r}: no answer within {timeout:g}s",)
            return self._interrupt(expired)
        except GuestError as error:
            if self._stopping.is_set():  # the owner tore the guest down under the command
                return {
                    "error": f"instance {self._instance.umid} was stopped while {command!r} ran"
                }
            self._note_end(error)
            return _error_reply(error)
        except HarnessError as error:
            return {"error": str(error)}
        finally:
            self._lock.release()
        return {"exit_code": result.exit_code, "output": result.output}

    def _interrupt(self, expired: BootTimeout) -> dict[str, Any]:
        """A command ran out of time: Ctrl-C it, so the console serves the next one."""
        try:
            self._instance.interrupt(INTERRUPT_SECONDS)
        except BootTimeout:
            # The markers are unique: the next command's output is told apart
            # from this one's, once the shell reads it.
            expired.args = (
                f"{expired}; Ctrl-C did not stop it within {INTERRUPT_SECONDS:g}s: it still "
                "runs, and the next exec waits for it",
            )
            return _error_reply(expired)
        except GuestError as error:
            self._note_end(error)
            return _error_reply(error)
        expired.args = (f"{expired}; it was interrupted (Ctrl-C)",)
        return _error_reply(expired)

    def _note_end(self, error: GuestError) -> None:
        """An error that killed the instance (a crash) ends the owner too, with it.

        A guest that exited is left to the serving thread, which tells a
        poweroff (no error) from a kill."""
        if not self._instance.alive and not isinstance(error, GuestExited):
            self._error = error


def _error_reply(error: GuestError) -> dict[str, Any]:
    return {
        "error": str(error),
        "console_tail": error.console_tail,
        "log": None if error.log is None else str(error.log),
    }


def _listen(path: Path) -> socket.socket:
    """A listening socket at `path`, mode 0600 from the moment it has that name."""
    temporary = path.with_name("exec.new")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with suppress(FileNotFoundError):
            temporary.unlink()
        listener.bind(str(temporary))
        temporary.chmod(0o600)
        temporary.rename(path)
        listener.listen(8)
    except BaseException:
        listener.close()
        raise
    return listener


def _peer_uid(connection: socket.socket) -> int:
    ucred = struct.Struct("3i")
    _pid, uid, _gid = ucred.unpack(
        connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, ucred.size)
    )
    return int(uid)


def _read_all(connection: socket.socket, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := connection.recv(65536):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise HarnessError(f"more than {limit} bytes")
    return b"".join(chunks)


def _parse_request(data: bytes) -> tuple[str, float]:
    try:
        request = json.loads(data)
        command, timeout = request["command"], request["timeout"]
    except (ValueError, TypeError, KeyError) as error:
        raise HarnessError(f"not a request ({error})") from None
    if not isinstance(command, str) or not command.strip():
        raise HarnessError("no command")
    return command, validate.seconds(timeout, "timeout")


@contextmanager
def serving(instance: Instance) -> Iterator[ExecServer]:
    """Serve exec for `instance` until the block ends (see ExecServer)."""
    server = ExecServer(instance)
    server.start()
    try:
        yield server
    finally:
        server.stop(INTERRUPT_SECONDS)


# -- the client: `umlharness exec` ------------------------------------------------------


def refusal(info: InstanceInfo) -> str | None:
    """Why `info`'s instance does not serve exec, or None if it does."""
    owner = f"pid {info.owner.pid}" if info.owner is not None else "owner unknown"
    if info.by_pytest:
        return (
            f"instance {info.umid} belongs to a pytest session ({owner}): "
            "its test holds the console, so it does not serve exec"
        )
    if info.console == registry.CONSOLE_EXEC:
        return None
    if info.console == registry.CONSOLE_INTERACTIVE:
        return (
            f"instance {info.umid} has an interactive console (`umlharness boot` on a "
            f"terminal, {owner}): type the command there"
        )
    return (
        f"instance {info.umid} does not serve exec: the program that booted it ({owner}; "
        "`umlharness boot --run` or a script) holds its console"
    )


def run_remote(umid: str | None, command: str, timeout: float) -> RunResult:
    """Run `command` in instance `umid` (else as registry.find() chooses) through the
    process that owns its console; its exit code and output."""
    info = registry.find(umid, pick_with="--umid")
    reason = refusal(info)
    if reason is not None:
        raise HarnessError(reason)
    path = info.dir / registry.EXEC_SOCKET
    check_socket_path(path, "exec socket")
    owner = f"its owner (pid {info.owner.pid})" if info.owner is not None else "its owner"
    request = json.dumps({"command": command, "timeout": timeout}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(CONNECT_SECONDS)
        try:
            connection.connect(str(path))
            connection.sendall(request)
            connection.shutdown(socket.SHUT_WR)
        except (FileNotFoundError, ConnectionRefusedError):
            raise HarnessError(
                f"instance {info.umid}: {owner} no longer serves exec (it has exited)"
            ) from None
        except OSError as error:
            raise HarnessError(f"instance {info.umid}: cannot reach {owner}: {error}") from None
        data = _read_reply(connection, timeout + REPLY_GRACE_SECONDS, info.umid, owner)
    return _parse_reply(data, command, info.umid, owner)


def _read_reply(connection: socket.socket, timeout: float, umid: str, owner: str) -> bytes:
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise HarnessError(f"instance {umid}: no answer from {owner} within {timeout:g}s")
        connection.settimeout(min(remaining, 1.0))
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            continue
        except OSError as error:
            raise HarnessError(f"instance {umid}: lost {owner}: {error}") from None
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _parse_reply(data: bytes, command: str, umid: str, owner: str) -> RunResult:
    if not data:
        raise HarnessError(
            f"instance {umid}: {owner} closed the connection without an answer "
            "(it, or the guest, has ended)"
        )
    try:
        reply = json.loads(data)
        if "error" in reply:
            log = reply.get("log")
            raise GuestError(
                str(reply["error"]),
                console_tail=str(reply.get("console_tail") or ""),
                log=Path(log) if log else None,
            )
        return RunResult(command, int(reply["exit_code"]), str(reply["output"]))
    except (ValueError, TypeError, KeyError) as error:
        raise HarnessError(f"instance {umid}: a reply exec cannot read ({error})") from None
