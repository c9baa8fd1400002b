"""A running UML guest: boot it, run commands in it, watch it, tear it down.

    with Instance.boot(BootRequest(kernel, rootfs, iomem=[IomemSpec("mock")])) as vm:
        result = vm.run("lsmod")
        print(result.exit_code, result.output)

Every wait has a timeout. A crash in the kernel log raises GuestCrashed with its
trace; leaving the `with` block (or the interpreter) powers the guest off, or
kills its whole process group, and removes the instance's directory.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pexpect

from simulators.pci.control import RemoteModel, mark_step, unplug
from simulators.virtio.remote import gpio as gpio_controller
from simulators.virtio.remote import i2c_device
from umlharness_shared import registry
from umlharness_shared.procs import ProcessId, kill_group
from umlharness_shared.watchdog import Watchdog

from . import coverage, paths, validate
from .attachments import Attachment, IomemRegion, PciDevice, check_files_unshared
from .attachments import plan as plan_attachments
from .board import BoardSpec, VirtioBoard
from .console import KernelLog, spawn_uml
from .cow import write_cow
from .crash import extract_trace, trace_complete
from .errors import BootTimeout, GuestCrashed, GuestError, GuestExited, HarnessError
from .guest_faults import GuestFaults
from .interrupts import InterruptCount, parse_interrupts
from .iomem import IomemSpec, check_unique
from .kernel import Kernel
from .paths import private_copy, private_dir
from .pci import PciBackend, PciSpec, check_pci_count
from .placement import ANYWHERE, CpuPlacement
from .rootfs import Rootfs
from .shell import GuestShell, RunResult, check_result
from .tmpdir import uml_temp_dir

READY_MARKER = "UMLHARNESS-READY"
DEFAULT_MEM = "128M"
#: Seconds a guest (Linux 6.3 and later) waits for a PCI model's answer by default.
DEFAULT_PCI_TIMEOUT = 2.0
LOOPS_PER_JIFFY = 20_000_000
#: The copy-on-write layer over the shared root image, one per boot (umlharness/cow.py).
ROOT_COW = "root.cow"
#: How long to wait for the rest of a crash trace once its first line is seen.
TRACE_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class CrashReport:
    """A crash seen in the kernel log: its kind (oops, panic, ...) and its trace."""

    kind: str
    trace: str


@dataclass(frozen=True)
class BootRequest:
    """Everything that decides how a guest boots."""

    kernel: Kernel
    rootfs: Rootfs
    iomem: Sequence[IomemSpec] = ()
    mem: str = DEFAULT_MEM
    umid: str | None = None
    share: Path | None = None
    boot_timeout: float = 30.0
    #: How long run() and check() wait for a command that names no timeout of its own.
    command_timeout: float = 30.0
    loglevel: int = 7
    autoload: bool = True
    #: PCI devices served by Python models over virt-pci (`--pci MODEL,...`).
    pci: Sequence[PciSpec] = ()
    #: Record every PCI access here (pci1... go to TRACE.pci1...).
    pci_trace: Path | None = None
    #: How long the guest waits for a PCI model's answer before the access fails
    #: (virt-pci's max_delay_us, Linux 6.3 and later; 6.1 waits about 40 ms).
    pci_timeout: float | None = None
    #: I2C devices and GPIO lines served over virtio (`--i2c MODEL@ADDR`, `--gpio N`).
    board: BoardSpec = field(default_factory=BoardSpec)
    #: With PCI devices, UML on one host CPU and its backends on the others
    #: (umlharness/placement.py); False leaves both to the host's scheduler.
    place_cpus: bool = True
    extra_args: Sequence[str] = ()
    #: Booted by a pytest session: recorded so that a bare `sim`, `stop` or `exec` skips it.
    by_pytest: bool = False
    #: Called with kernel log text as it arrives (the interactive console prints it).
    kernel_echo: Callable[[str], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # The one place where a boot's values are checked, whether they came
        # from the CLI, the pytest plugin or a script.
        validate.guest_memory_backing(self.mem)
        if self.umid is not None:
            validate.umid(self.umid)
        validate.seconds(self.boot_timeout, "boot timeout")
        validate.seconds(self.command_timeout, "command timeout")
        if self.share is not None:
            object.__setattr__(self, "share", validate.share(self.share))
        if self.rootfs.modules is not None:
            modules = str(self.rootfs.modules)
            if kernel_word(modules) != modules:
                # It is written into the guest's /etc/fstab as it is.
                raise HarnessError(
                    f"the module tree {modules} has characters the guest cannot mount "
                    "(spaces, quotes...): set UMLHARNESS_CACHE to a plain path"
                )
        if self.pci_timeout is not None:
            validate.seconds(self.pci_timeout, "PCI timeout")
            if not self.kernel_has_pci_timeout():
                raise HarnessError(
                    f"a PCI timeout needs Linux 6.3 or later; {self.kernel.release}'s "
                    "virt-pci waits about 40 ms for a model's answer"
                )
        check_unique(list(self.iomem))
        check_pci_count(list(self.pci))

    def kernel_has_pci_timeout(self) -> bool:
        return self.kernel.version >= (6, 3)


def new_umid() -> str:
    return f"uh-{secrets.token_hex(4)}"


class Instance:
    """One booted guest. Use `Instance.boot()`; close with `shutdown()` or a `with` block."""

    def __init__(self, request: BootRequest) -> None:
        self.request = request
        self.umid = request.umid if request.umid is not None else new_umid()
        # Reaps what a killed harness left behind; the rest are checked against.
        self._others = registry.instances(reap_stale=True)
        self.dir = registry.claim(self.umid)
        self.uml_dir = self.dir / "uml"
        self.console_log = self.dir / "console.log"
        self.kernel_log_path = self.dir / "kernel.log"
        self.regions: list[IomemRegion] = []
        self.devices: list[PciDevice] = []
        self.board: VirtioBoard | None = None
        self._child: pexpect.spawn | None = None
        self._klog: KernelLog | None = None
        self._shell: GuestShell | None = None
        self._closed = False
        # Torn down even if this object is dropped without shutdown(), or at exit.
        self._teardown = _Teardown(self.dir)
        self._finalizer = weakref.finalize(self, self._teardown)

    # -- life cycle -------------------------------------------------------------------

    @classmethod
    def boot(cls, request: BootRequest) -> Instance:
        instance = cls(request)
        try:
            instance._start()
        except BaseException as error:
            instance._kill_after(error)
            raise
        return instance

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is None:
            self.shutdown()
        else:
            self._kill_after(exc)

    def _kill_after(self, error: BaseException) -> None:
        """Tear down after a failure, keeping the logs and pointing the error at them."""
        saved = self.kill(keep_logs=True)
        if saved is not None and isinstance(error, GuestError) and error.log is not None:
            error.log = saved / error.log.name

    @property
    def umid_dir(self) -> Path:
        """Where UML puts this instance's sockets (mconsole, the drivers' interrupt sockets)."""
        return self.uml_dir / self.umid

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    @property
    def alive(self) -> bool:
        return self._child is not None and self._child.isalive()

    def _kernel_args(self) -> list[str]:
        request = self.request
        cow = self.dir / ROOT_COW
        args = [
            f"mem={request.mem}",
            f"umid={self.umid}",
            f"uml_dir={self.uml_dir}",
            f"ubd0={cow},{request.rootfs.image.resolve()}",
            "root=/dev/ubda",
            "rw",
            "init=/init",
            "con0=fd:0,fd:1",
            "con=null",
            "ssl=null",
            f"loglevel={request.loglevel}",
            # Skip the delay-loop calibration (40 ms of every boot); nothing the
            # harness runs busy-waits on udelay() for real time.
            f"lpj={LOOPS_PER_JIFFY}",
            f"umlharness.autoload={1 if request.autoload else 0}",
        ]
        for attachment in self.attachments:
            args += attachment.kernel_args()
        if self.regions:
            args.append("umlharness.iomem=" + ",".join(region.name for region in self.regions))
        if request.share is not None:
            args.append(f"umlharness.share={kernel_word(str(request.share))}")
        if request.pci and request.kernel_has_pci_timeout():
            # Python models answer in milliseconds, and slower under load: far
            # more than virt-pci's default of 40 ms would be needed to fail one.
            timeout = request.pci_timeout or DEFAULT_PCI_TIMEOUT
            args.append(f"virt_pci.max_delay_us={round(timeout * 1e6)}")
        if request.rootfs.modules is not None:
            # No dot in the name: the kernel hands it to init in its environment,
            # which mounts it with the rest of /etc/fstab, in one process.
            args.append(f"UMLHARNESS_MODULES={request.rootfs.modules}")
        return [*args, *request.extra_args]

    def _start(self) -> None:
        request = self.request
        self.regions, self.devices = plan_attachments(
            request.iomem, request.pci, self.dir, self.umid_dir, request.pci_trace
        )
        if request.board:
            self.board = VirtioBoard(request.board, self.dir)
        self._teardown.attachments = self.attachments
        for region in self.regions:
            region.start(self.dir)
        check_files_unshared(self.regions, self._others)
        self.uml_dir.mkdir(mode=0o700)
        watchdog = self._teardown.watchdog = Watchdog(self.dir)
        placement = (
            CpuPlacement.choose(self.umid) if self.devices and request.place_cpus else ANYWHERE
        )
        # All start at once (backends take a while to listen), then each is waited for.
        for device in self.devices:
            device.start(self.dir)
            if device.backend.pid is not None:
                placement.pin_device(device.backend.pid)
        if self.board is not None:
            self.board.start(self.dir)
        for attachment in self.attachments:
            attachment.wait_ready(request.boot_timeout)
            for process, needle in attachment.watched():
                watchdog.watch_process(process, needle)
        write_cow(self.dir / ROOT_COW, request.rootfs.image.resolve())
        env = {**os.environ, "TMPDIR": str(uml_temp_dir())}
        self._child, self._klog = spawn_uml(
            request.kernel.binary,
            self._kernel_args(),
            env=env,
            cwd=self.dir,
            console_log=self.console_log,
            kernel_log=self.kernel_log_path,
            kernel_echo=request.kernel_echo,
            placement=placement,
        )
        self._teardown.child, self._teardown.klog = self._child, self._klog
        self._shell = GuestShell(self._child, lambda: self.console_log, self._raise_if_crashed)
        uml = ProcessId.of(self._child.pid)
        if uml is None:
            raise self.shell.exited_error("the guest exited as it started")
        watchdog.watch_group(uml, registry.uml_needle(self.umid))
        registry.record(
            self.dir,
            uml=uml,
            iomem={name: str(path) for name, path in self.iomem_files.items()},
            umid_dir=str(self.umid_dir),
            pci=[
                *(device.record for device in self.devices),
                *([self.board.record] if self.board else []),
            ],
            by_pytest=request.by_pytest,
        )
        self.shell.expect_console([re.escape(READY_MARKER)], request.boot_timeout, "boot")

    @property
    def attachments(self) -> list[Attachment]:
        return [*self.regions, *self.devices, *([self.board] if self.board else [])]

    @property
    def iomem_files(self) -> dict[str, Path]:
        """The file of each iomem region, by region name."""
        return {region.name: region.path for region in self.regions if region.file is not None}

    @property
    def pci(self) -> list[PciBackend]:
        """The backend of each PCI device, in slot order."""
        return [device.backend for device in self.devices]

    def pci_control(self, slot: str = "pci0") -> Path:
        """The control socket of PCI device `slot`, for `RemoteModel` (what `sim` uses)."""
        for backend in self.pci:
            if backend.slot == slot:
                return backend.control
        have = ", ".join(backend.slot for backend in self.pci) or "none"
        raise HarnessError(f"no PCI device {slot} (this instance has: {have})")

    def pci_model(self, slot: str = "pci0") -> RemoteModel:
        """The model of PCI device `slot`, run in its backend: `vm.pci_model().link_down()`."""
        return RemoteModel(self.pci_control(slot))

    def i2c_device(self, address: int) -> RemoteModel:
        """The model of the I2C device at `address`, run in the board's backend:
        `vm.i2c_device(0x48).set_temperature(85)`."""
        return i2c_device(self._board().backend.control, address)

    @property
    def gpio(self) -> RemoteModel:
        """The GPIO controller, run in the board's backend: `vm.gpio.set(3, 1)`."""
        return gpio_controller(self._board().backend.control)

    def _board(self) -> VirtioBoard:
        if self.board is None:
            raise HarnessError(f"{self.umid} has no I2C or GPIO devices (--i2c, --gpio)")
        return self.board

    def unplug(self, slot: str = "pci0") -> None:
        """Pull PCI device `slot` out while the guest runs, as a surprise removal: its
        backend closes the connection, UML removes the device and the driver's
        remove runs. The backend's end is then no failure."""
        for backend in self.pci:
            if backend.slot == slot:
                backend.expect_exit()
                unplug(backend.control)
                return
        self.pci_control(slot)  # the error naming the slots there are

    def mark_step(self, index: int, command: str) -> None:
        """The guest is about to run command `index` (1, 2, ...) of a workload: each
        PCI backend's trace records it, and a replay makes what its device did
        before it (umlharness/reproducer.py)."""
        for backend in self.pci:
            mark_step(backend.control, index, command)

    # -- the console (umlharness/shell.py) ----------------------------------------------

    @property
    def shell(self) -> GuestShell:
        """The guest's shell on the console: how commands run and text is waited for."""
        if self._shell is None:
            raise GuestExited("the guest has not started")
        return self._shell

    def run(self, command: str, timeout: float | None = None) -> RunResult:
        """Run a shell command in the guest; return its exit code and output.

        It may take `timeout` seconds (default: the request's command_timeout).

        The command runs in a subshell, so `exit 3` ends only the command;
        changes to the current directory or variables do not carry over
        (chain them: `cd /sys && ls`). stdin is /dev/null and stderr is merged
        into the output.
        """
        result = self.shell.run(
            command, self.request.command_timeout if timeout is None else timeout
        )
        # What the command made the kernel print (a WARN, say) counts as part of it.
        assert self._klog is not None
        self._klog.settle()
        self._raise_if_crashed()
        return result

    def check(self, command: str, timeout: float | None = None) -> str:
        """run() that raises GuestError if the command fails; returns its output."""
        return check_result(self.run(command, timeout))

    def expect(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for regex `pattern` on the console; return the text that matched."""
        return self.shell.expect(pattern, timeout)

    def console_tail(self, lines: int = 25) -> str:
        return self.shell.tail(lines) if self._shell is not None else ""

    def prepare_shell(self) -> None:
        self.shell.prepare()

    def prepare_interactive(self) -> None:
        self.shell.prepare_interactive()

    def interact(self, escape_character: str = "\x1d") -> None:
        """Hand the console to the user's terminal until the escape key (Ctrl-]) is pressed."""
        self.shell.interact(escape_character)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the guest exits (or `timeout`); raise on a crash or a kill."""
        self.shell.wait(timeout)

    def pump(self, timeout: float = 0.0) -> bool:
        """While no command runs: read the console for up to `timeout` seconds and
        look for a crash; False once the guest has exited (raise on a crash or a kill)."""
        return self.shell.pump(timeout)

    def console_fileno(self) -> int:
        """The console's descriptor, readable when the guest prints (or exits)."""
        return int(self.shell.child.child_fd)

    def interrupt(self, timeout: float = 5.0) -> None:
        """Stop the command that runs (Ctrl-C) and wait until the shell answers again."""
        self.shell.interrupt(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Power the guest off; kill it if it does not go in `timeout` seconds."""
        if self._closed:
            return
        gathering = coverage.gathering(self.request.kernel.key)
        if gathering is not None and self.alive:
            # Before the drivers are unbound: counts of unloaded modules stay anyway.
            gathering.collect(self, f"{self.umid}-{os.getpid()}")
        commands = dict.fromkeys(c for a in self.attachments for c in a.before_poweroff())
        for command in commands:
            if self.alive:
                self.run(command, timeout=timeout)
        for attachment in self.attachments:
            attachment.guest_stopping()
        if self.alive and self._child is not None:
            try:
                self._child.sendline("poweroff -f")
                self._child.expect(pexpect.EOF, timeout=timeout)
            except (pexpect.TIMEOUT, OSError):
                pass
        self.kill()

    def kill(self, keep_logs: bool = False) -> Path | None:
        """Kill the whole UML process group and remove the instance directory.

        With `keep_logs`, the console and kernel logs are first saved under the
        cache's logs/ directory; the new place is returned.
        """
        if self._closed:
            return None
        self._closed = True
        self._finalizer.detach()
        self._teardown.kill_processes()
        saved = self._save_logs() if keep_logs else None
        self._teardown.remove()
        return saved

    def keep_files(self, target: Path, moved: bool = False) -> None:
        """Copy the console and kernel logs and what each attachment keeps (its log,
        a register snapshot) into `target` (made private); with `moved`, the copies
        are this instance's files from now on (its directory is going away)."""
        private_dir(target)
        for log in (self.console_log, self.kernel_log_path):
            if log.exists():
                private_copy(log, target / log.name)
        for attachment in self.attachments:
            attachment.keep(target, moved)
        if moved:
            self.console_log = target / self.console_log.name
            self.kernel_log_path = target / self.kernel_log_path.name

    def _save_logs(self) -> Path | None:
        """Move the logs and register snapshots out of the instance directory."""
        root = private_dir(paths.cache_dir() / "logs" / "instances")
        target = root / self.umid
        self.keep_files(target, moved=True)
        _prune_saved(root)
        return target

    # -- the console ------------------------------------------------------------------

    def _raise_if_crashed(self, wait_for_log: bool = False) -> None:
        self._raise_if_attachment_failed()
        klog = self._klog
        if klog is None:
            return
        if wait_for_log:
            klog.join(timeout=2)
        crash = klog.crash
        if crash is None:
            return
        klog.wait_for(lambda text: trace_complete(text, crash), TRACE_GRACE_SECONDS)
        trace = extract_trace(klog.text, crash)
        saved = self.kill(keep_logs=True)
        raise GuestCrashed(crash.kind, trace, log=(saved / "kernel.log") if saved else None)

    def _raise_if_attachment_failed(self) -> None:
        for attachment in self.attachments:
            try:
                attachment.check()
            except GuestError as error:
                saved = self.kill(keep_logs=True)
                if saved is not None and error.log is not None:
                    error.log = saved / error.log.name
                raise

    def crash_report(self) -> CrashReport | None:
        """The first crash in the kernel log so far, without raising."""
        klog = self._klog
        if klog is None or klog.crash is None:
            return None
        return CrashReport(klog.crash.kind, extract_trace(klog.text, klog.crash))

    def expect_kernel(self, pattern: str, timeout: float = 10.0) -> str:
        """Wait for regex `pattern` in the kernel log; return the matching line."""
        assert self._klog is not None
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            self._raise_if_crashed()
            match = regex.search(self._klog.text)
            if match:
                return match[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._klog.closed:
                raise BootTimeout(
                    f"kernel log: {pattern!r} did not appear within {timeout:g}s",
                    console_tail=self.kernel_log_tail(),
                    log=self.kernel_log_path,
                )
            self._klog.wait_for(lambda text: bool(regex.search(text)), min(remaining, 0.2))

    @property
    def kernel_log(self) -> str:
        """Everything the kernel printed so far (the console's view of dmesg)."""
        return self._klog.text if self._klog is not None else ""

    def kernel_log_tail(self, lines: int = 25) -> str:
        return "\n".join(self.kernel_log.splitlines()[-lines:])

    # -- commands ---------------------------------------------------------------------

    def dmesg(self) -> str:
        return self.check("dmesg")

    def inject_faults(
        self,
        module: str,
        kind: str = "slab",
        *,
        times: int = 1,
        probability: int = 100,
        interval: int = 1,
    ) -> GuestFaults:
        """Allocation failures aimed at `module` for a `with` block (umlharness/guest_faults.py)."""
        return GuestFaults(self, module, kind, times, probability, interval)

    def interrupts(self) -> list[InterruptCount]:
        return parse_interrupts(self.check("cat /proc/interrupts"))


#: Logs of failed instances kept under the cache; older ones are removed.
KEEP_SAVED_INSTANCES = 50


def _prune_saved(root: Path) -> None:
    saved = sorted(root.iterdir(), key=lambda p: p.stat().st_mtime)
    for old in saved[:-KEEP_SAVED_INSTANCES]:
        shutil.rmtree(old, ignore_errors=True)


class _Teardown:
    """What an instance started, apart from the Instance object, so that a
    weakref finalizer can tear it down when a script drops the object or exits
    without shutdown()."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.child: pexpect.spawn | None = None
        self.klog: KernelLog | None = None
        self.attachments: list[Attachment] = []
        self.watchdog: Watchdog | None = None

    def __call__(self) -> None:
        self.kill_processes()
        self.remove()

    def kill_processes(self) -> None:
        child = self.child
        if child is not None:
            kill_group(child.pid)
            with suppress(OSError, pexpect.ExceptionPexpect):
                child.close(force=True)
            if child.logfile_read:
                child.logfile_read.close()
        for attachment in self.attachments:
            attachment.stop()
        if self.klog is not None:
            self.klog.join(timeout=2)

    def remove(self) -> None:
        """Remove the directory; then the watchdog has nothing left to do."""
        if registry.is_instance_dir(self.directory):
            shutil.rmtree(self.directory, ignore_errors=True)
        if self.watchdog is not None:
            self.watchdog.release()


def kernel_word(text: str) -> str:
    """`text` as one word of the kernel command line: UML joins its arguments with
    spaces, so bytes other than a safe few become octal escapes (init undoes them
    with `printf %b`)."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._+-@=~,:"
    return "".join(chr(byte) if byte in safe else f"\\{byte:03o}" for byte in os.fsencode(text))


@contextmanager
def booted(request: BootRequest) -> Iterator[Instance]:
    """Context manager form of Instance.boot()."""
    instance = Instance.boot(request)
    with instance:
        yield instance
