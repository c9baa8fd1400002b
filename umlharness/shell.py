"""The guest's shell on UML's console: the protocol that runs commands and waits for text.

`run()` wraps a command in markers the shell itself prints, with echo and
the tty's newline translation off, and reads up to the end marker in time
linear in the output. Every wait polls `watch` (the instance's crash and
attachment checks) at least every POLL_SECONDS and has a deadline; when UML
closes the console the wait ends with GuestExited (or the crash that
explains it).
"""

from __future__ import annotations

import os
import secrets
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import pexpect

from .console import read_marker_line, take_unread
from .errors import BootTimeout, GuestError, GuestExited

#: How often a wait looks at the kernel log for a crash.
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class RunResult:
    command: str
    exit_code: int
    output: str

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class GuestShell:
    """The console of one UML process (`child`), logged to `log_path()`.

    `watch(wait_for_log)` raises if the guest crashed or an attachment
    failed; `wait_for_log` says UML has gone and its kernel log should be
    read to the end first.
    """

    def __init__(
        self,
        child: pexpect.spawn,
        log_path: Callable[[], Path],
        watch: Callable[[bool], None],
    ) -> None:
        self.child = child
        self._log_path = log_path
        self._watch = watch
        self._token = 0

    @property
    def alive(self) -> bool:
        return bool(self.child.isalive())

    # -- waiting for text ---------------------------------------------------------------

    def send(self, line: str) -> None:
        if not self.alive:
            raise self.exited_error("the guest is not running")
        self.child.sendline(line)

    def _next_token(self) -> str:
        self._token += 1
        return f"{self._token}x{secrets.token_hex(3)}"

    def sync(self, timeout: float) -> None:
        token = self._next_token()
        # The shell expands $((...)); an echo of the command line could not match.
        self.send(f"echo UMLH-SYNC-$((40+2))-{token}")
        self.expect_line(f"UMLH-SYNC-42-{token}", timeout, "the guest's shell")

    def expect_console(
        self, patterns: list[str], timeout: float, what: str, nudge: bool = False
    ) -> int:
        """Expect one of `patterns` on the console, watching the kernel log for crashes.

        With `nudge` (only once booted), UML is nudged whenever the console is silent.
        """
        deadline = time.monotonic() + timeout
        compiled = self.child.compile_pattern_list([*patterns, pexpect.EOF, pexpect.TIMEOUT])
        while True:
            self._watch(False)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self.no_answer_error(what, timeout)
            index: int = self.child.expect_list(compiled, timeout=min(POLL_SECONDS, remaining))
            if index < len(patterns):
                return index
            if index == len(patterns):  # EOF: UML is gone
                raise self.gone_error(what)
            if nudge:
                self.nudge()

    def expect_line(self, marker: str, timeout: float, what: str) -> tuple[str, str]:
        """Wait for `marker` and the rest of its line: (console text before it, rest of line).

        Unlike expect_console, in time linear in the text read (a command's output).
        """
        try:
            return read_marker_line(
                self.child, marker, timeout, lambda: self._watch(False), POLL_SECONDS, self.nudge
            )
        except pexpect.TIMEOUT:
            raise self.no_answer_error(what, timeout) from None
        except pexpect.EOF:
            raise self.gone_error(what) from None

    def nudge(self) -> None:
        """Make UML look at its host descriptors, as a SIGIO from the console pty would.

        UML hears that the pty has room again only from a SIGIO, which the host
        sends once after a short write, at the next wake-up; if the pty is
        still full when UML looks (its epoll is edge-triggered), that wake-up
        is lost, and the guest's output waits in UML's line buffer for some
        other interrupt: seconds, or for ever. Only called once the guest has
        booted: before UML sets its handler, SIGIO would kill it.
        """
        # Once pexpect has reaped UML (terminated), its pid may be another process's.
        if not self.child.terminated:
            with suppress(ProcessLookupError):
                os.kill(self.child.pid, signal.SIGIO)

    def expect(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for regex `pattern` on the console; return the text that matched."""
        self.expect_console([pattern], timeout, f"expect {pattern!r}", nudge=True)
        return str(self.child.after)

    # -- errors -------------------------------------------------------------------------

    def no_answer_error(self, what: str, timeout: float) -> BootTimeout:
        return BootTimeout(
            f"{what}: no answer within {timeout:.3g}s",
            console_tail=self.tail(),
            log=self._log_path(),
        )

    def gone_error(self, what: str) -> GuestExited:
        """UML has closed the console: a crash if the kernel log shows one, else an exit."""
        self._watch(True)
        return self.exited_error(f"{what}: the guest exited")

    def exited_error(self, message: str) -> GuestExited:
        return GuestExited(message, console_tail=self.tail(), log=self._log_path())

    def tail(self, lines: int = 25) -> str:
        text = self.child.before if isinstance(self.child.before, str) else ""
        with suppress(OSError):
            text = self._log_path().read_text(errors="replace")
        return "\n".join(text.replace("\r\n", "\n").splitlines()[-lines:])

    # -- commands -----------------------------------------------------------------------

    def prepare(self) -> None:
        """Make the console a clean channel for run(): no echo, no prompt, output as written.

        Without -opost the tty puts a carriage return before every newline,
        which run() would have to take out again, and each one is a write of
        its own in UML's console driver: line output is six times slower.
        """
        self.send("stty -echo -opost; export PS1='' PS2=''")
        self.sync(timeout=10)

    def run(self, command: str, timeout: float) -> RunResult:
        """Run a shell command in a subshell (stdin /dev/null, stderr merged); its
        exit code and output, within `timeout` seconds."""
        if self._token == 0:
            self.prepare()
        token = self._next_token()
        # One write: the markers around the command come from the shell itself, and the
        # command's stdin is /dev/null, so it cannot swallow the lines after it.
        self.send(
            f"echo UMLH-BEGIN-{token}\n"
            f"( {command}\n) </dev/null 2>&1\n"
            f"printf '\\nUMLH-END-{token}-%d\\n' $?"
        )
        what = f"run {command!r}"
        started = time.monotonic()
        self.expect_line(f"UMLH-BEGIN-{token}", timeout, what)
        remaining = max(timeout - (time.monotonic() - started), POLL_SECONDS)
        # The newline is printf's: the marker starts a line even after output without one.
        output, status = self.expect_line(f"\nUMLH-END-{token}-", remaining, what)
        return RunResult(command, int(status), output)

    def prepare_interactive(self) -> None:
        """Give the console back its echo, output processing and prompt, for a person."""
        self.send("stty echo opost; . /etc/profile")

    def interact(self, escape_character: str = "\x1d") -> None:
        """Hand the console to the user's terminal until the escape key (Ctrl-]) is pressed."""
        self.child.logfile_read = None
        self.child.interact(escape_character=escape_character)
        self.raise_if_killed()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the guest exits (or `timeout`); raise on a crash."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.pump(0.2):
            if deadline is not None and time.monotonic() > deadline:
                raise BootTimeout(
                    f"the guest still runs after {timeout:g}s",
                    console_tail=self.tail(),
                    log=self._log_path(),
                )

    def pump(self, timeout: float) -> bool:
        """Read the console for up to `timeout` seconds while no command runs, and
        look for a crash; False once UML has exited (raise on a crash or a kill).

        What is read is in the console log; it is dropped here, so an idle
        guest that prints does not grow pexpect's buffer without end.
        """
        if self.child.isalive():
            self._watch(False)
            try:
                self.child.expect(pexpect.EOF, timeout=timeout)
            except pexpect.TIMEOUT:
                take_unread(self.child)
                return True
            if self.child.isalive():  # the console closed; the process is not reaped yet
                return True
        self._watch(True)
        self.raise_if_killed()
        return False

    def interrupt(self, timeout: float) -> None:
        """Ctrl-C to the command that runs (the console is the shell's controlling
        tty), then wait until the shell answers again."""
        self.child.send("\x03")
        self.sync(timeout)

    def raise_if_killed(self) -> None:
        """A guest that ended other than by powering off (killed, say) is an error."""
        child = self.child
        if child.isalive():
            return
        if child.signalstatus is not None:
            name = signal.Signals(child.signalstatus).name
            raise self.exited_error(f"the guest's UML process was killed by {name}")
        if child.exitstatus:
            raise self.exited_error(
                f"the guest's UML process exited with status {child.exitstatus}"
            )


def check_result(result: RunResult) -> str:
    """The output of a command that succeeded; GuestError for one that failed."""
    if not result.ok:
        raise GuestError(
            f"{result.command!r} exited {result.exit_code}", console_tail=result.output
        )
    return result.output
