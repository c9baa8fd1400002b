"""The UML process: its console under pexpect, and its kernel log on a pipe of its own.

The kernel prints to UML's second line (tty1), which the harness connects to a
pipe, so command output on the shell's console (tty0) stays free of kernel
messages. A thread reads that pipe into a log file and a buffer and watches
it for crashes.
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

import pexpect
import ptyprocess

from .crash import Crash, find_crash
from .placement import ANYWHERE, CpuPlacement


class _UmlSpawn(pexpect.spawn):  # type: ignore[misc]
    """pexpect.spawn that lets extra descriptors through to the child.

    pexpect closes every descriptor above 2 in the child; ptyprocess can keep
    some open, but pexpect does not pass the option on. The class attribute is
    set around the constructor call only.
    """

    pass_fds: tuple[int, ...] = ()

    def _spawnpty(self, args: list[str], **kwargs: Any) -> ptyprocess.PtyProcess:
        return ptyprocess.PtyProcess.spawn(args, pass_fds=self.pass_fds, **kwargs)


ADDR_NO_RANDOMIZE = 0x0040000


def _no_address_randomisation() -> None:
    """In the child: a fixed address layout, as `setarch -R` gives.

    With ASLR, UML finds a random gap between its binary and its memory and
    adds it to physical memory ("Adding N bytes ... exec-shield gap"), up to
    a gigabyte of page structures to set up: slower and more variable boots.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    current = libc.personality(0xFFFFFFFF)
    libc.personality(current | ADDR_NO_RANDOMIZE)


PR_SET_PDEATHSIG = 1


def _child_setup(parent: int, die_with_parent: bool, placement: CpuPlacement) -> Callable[[], None]:
    """What the UML child does before exec: a fixed address layout, its CPUs and,
    when the harness's main thread spawns it, SIGKILL when the harness dies.

    The death signal follows the thread that forked, not the process, so it is
    set only from the main thread; the instance's watchdog covers the rest.
    """

    def setup() -> None:
        _no_address_randomisation()
        placement.pin_uml()
        if die_with_parent:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:  # the harness died before prctl
                os._exit(1)

    return setup


#: What one read asks of the console pty. Linux hands over at most 4 KiB per
#: os.read of a pty; pexpect's read_nonblocking keeps reading while more is ready,
#: so a stream arrives in pieces this big and is searched once per piece.
READ_CHUNK = 65536


class MarkerSearch:
    """Finds `marker` and the rest of its line in text that arrives in pieces.

    Each piece is searched once, together with the last len(marker) - 1
    characters before it (a marker may be split between two reads), and the
    pieces are joined once, at the end: linear time. pexpect's expect() instead
    searches its whole buffer after every read, quadratic in a command's output.
    """

    def __init__(self, marker: str) -> None:
        if not marker:
            raise ValueError("empty marker")
        self.marker = marker
        self._chunks: list[str] = []
        self._size = 0
        self._tail = ""
        self._marker_at: int | None = None
        self._line_end: int | None = None

    @property
    def done(self) -> bool:
        """True once the marker and the rest of its line (up to its newline) are in."""
        return self._line_end is not None

    def feed(self, text: str) -> bool:
        """Add the next piece of text; return `done`. Text fed once done is kept, not searched."""
        start = self._size
        self._chunks.append(text)
        self._size += len(text)
        if self.done:
            return True
        if self._marker_at is None:
            window = self._tail + text
            found = window.find(self.marker)
            if found < 0:
                keep = len(self.marker) - 1
                self._tail = window[-keep:] if keep else ""
                return False
            self._marker_at = start - len(self._tail) + found
        newline = text.find("\n", max(0, self._marker_at + len(self.marker) - start))
        if newline >= 0:
            self._line_end = start + newline + 1
        return self.done

    @property
    def text(self) -> str:
        """Everything fed so far."""
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""

    def result(self) -> tuple[str, str, str]:
        """(text before the marker, the rest of its line without the line end, text after)."""
        if self._marker_at is None or self._line_end is None:
            raise ValueError(f"the line of {self.marker!r} is not complete")
        text = self.text
        rest = text[self._marker_at + len(self.marker) : self._line_end]
        return (
            text[: self._marker_at],
            rest.removesuffix("\n").removesuffix("\r"),
            text[self._line_end :],
        )


def take_unread(child: pexpect.spawn) -> str:
    """Take what pexpect has read from the child but no expect() has consumed yet."""
    # pexpect keeps two buffers: _before (everything not yet consumed, what the
    # next expect() starts from) and _buffer (its search window). Both must be
    # set together, as its own match handling does.
    text = str(child._before.getvalue())
    put_back(child, "")
    return text


def put_back(child: pexpect.spawn, text: str) -> None:
    """Make `text` what the next expect() (or read_marker_line()) sees first."""
    for name in ("_before", "_buffer"):
        buffer = child.buffer_type()
        buffer.write(text)
        setattr(child, name, buffer)


#: How long the console may be silent before the first nudge (then twice as long, and so on).
NUDGE_AFTER = 0.002


def read_marker_line(
    child: pexpect.spawn,
    marker: str,
    timeout: float,
    poll: Callable[[], None],
    poll_seconds: float,
    nudge: Callable[[], None] | None = None,
) -> tuple[str, str]:
    """Read the console up to `marker` and the rest of its line: (text before, rest of line).

    `poll` is called at least every `poll_seconds` (the crash watch; it may
    raise). `nudge` is called when the console has been silent for
    NUDGE_AFTER seconds, then after twice as long, up to every `poll_seconds`.
    What follows the line stays in pexpect's buffer for the next expect(); on
    pexpect.TIMEOUT (after `timeout`), pexpect.EOF or an error from `poll`,
    everything read is left there.
    """
    search = MarkerSearch(marker)
    search.feed(take_unread(child))
    deadline = time.monotonic() + timeout
    first_wait = min(NUDGE_AFTER, poll_seconds) if nudge is not None else poll_seconds
    wait = first_wait
    try:
        while not search.done:
            poll()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise pexpect.TIMEOUT(f"{marker!r} not seen within {timeout:g}s")
            try:
                search.feed(child.read_nonblocking(READ_CHUNK, min(wait, remaining)))
                wait = first_wait
            except pexpect.TIMEOUT:
                if nudge is not None:
                    nudge()
                wait = min(2 * wait, poll_seconds)
    except BaseException:
        put_back(child, search.text)
        raise
    before, rest, after = search.result()
    put_back(child, after)
    child.before = before
    return before, rest


class KernelLog:
    """Collects the kernel log from a pipe; notices the first crash."""

    def __init__(self, read_fd: int, path: Path, echo: Callable[[str], None] | None = None) -> None:
        self.path = path
        self.echo = echo
        self._fd = read_fd
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._scanned = 0
        self._reading = threading.Lock()
        self.crash: Crash | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._pump, name="uml-kernel-log", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with self.path.open("w", encoding="utf-8") as out:
            while self._pump_once(out):
                pass
        os.close(self._fd)
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def _pump_once(self, out: TextIO) -> bool:
        """Read and handle what the pipe holds; False once UML has closed it."""
        readable, _, _ = select.select([self._fd], [], [], 0.1)
        if not readable:
            return True
        # Reading and scanning under the reading lock lets settle() know that
        # nothing is read but not yet scanned.
        with self._reading:
            try:
                data = os.read(self._fd, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            text = data.decode("utf-8", errors="replace")
            out.write(text)
            out.flush()
            if self.echo:
                self.echo(text)
            with self._changed:
                self._chunks.append(text)
                if self.crash is None:
                    self._scan()
                self._changed.notify_all()
        return True

    def _scan(self) -> None:
        text = "".join(self._chunks)
        # Rescan from the last complete line: a crash line may arrive in pieces.
        line_start = text.rfind("\n", 0, self._scanned) + 1
        self.crash = find_crash(text, line_start)
        self._scanned = len(text)

    def settle(self, timeout: float = 0.5) -> None:
        """Wait until everything the kernel has written so far has been read and scanned.

        printk writes to the pipe before the printing code goes on, so after a
        guest command has finished, what it made the kernel say is in the pipe.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.closed:
            with self._reading:
                readable, _, _ = select.select([self._fd], [], [], 0)
            if not readable:
                return
            time.sleep(0.0005)

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self._chunks)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float) -> bool:
        """Wait until `predicate(log text)` holds or the pipe closes; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: predicate("".join(self._chunks)) or self.closed, timeout
            ) and predicate("".join(self._chunks))

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def spawn_uml(
    binary: Path,
    args: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    console_log: Path,
    kernel_log: Path,
    kernel_echo: Callable[[str], None] | None = None,
    placement: CpuPlacement = ANYWHERE,
) -> tuple[pexpect.spawn, KernelLog]:
    """Start UML with its console on a pty and its kernel log (tty1) on a pipe."""
    read_fd, write_fd = os.pipe()
    os.set_inheritable(write_fd, True)
    _UmlSpawn.pass_fds = (write_fd,)
    try:
        child = _UmlSpawn(
            str(binary),
            [*args, f"con1=null,fd:{write_fd}", "console=tty1"],
            env=env,
            cwd=str(cwd),
            encoding="utf-8",
            codec_errors="replace",
            timeout=None,
            dimensions=(50, 200),
            preexec_fn=_child_setup(
                os.getpid(), threading.current_thread() is threading.main_thread(), placement
            ),
        )
    finally:
        os.close(write_fd)
        _UmlSpawn.pass_fds = ()
    # pexpect sleeps 50 ms before every send by default; a guest shell needs no such pause.
    child.delaybeforesend = None
    child.logfile_read = console_log.open("w", encoding="utf-8")
    return child, KernelLog(read_fd, kernel_log, kernel_echo)
