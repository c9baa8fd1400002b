"""`umlharness`: build the kernel, drivers and rootfs; boot guests; list and stop them.

A thin layer: each command turns its options into a request and calls the
Python API. Errors print as one line (plus the console tail where there is
one) and exit with status 2; `boot --run` exits with the last command's status.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click

from simulators.errors import SimulatorError
from simulators.pci.models import make_model
from simulators.pci.trace import show
from simulators.virtio.board import BOARD_SLOT
from umlharness_shared import registry
from umlharness_shared.cli import run_cli
from umlharness_shared.project import Project, add_model_paths

from . import coverage, fuzz, remote_exec, reproducer, validate
from .artifacts import ArtifactRequest, Artifacts, prepare, prepare_drivers
from .board import BoardSpec
from .errors import BootTimeout, BuildFailed, GuestError, HarnessError
from .fuzz_targets import fuzz_target
from .instance import DEFAULT_MEM, BootRequest, Instance
from .iomem import IomemSpec, check_unique
from .kernel import KernelRequest, build_kernel, built_kernels, supported_series
from .pci import PciSpec, check_pci_count
from .progress import default_reporter
from .source import DEFAULT_SERIES, DISTRO_SOURCE_DIR, KernelSource

ESCAPE_KEY = "\x1d"  # Ctrl-]
F = TypeVar("F", bound=Callable[..., Any])


def error_details(error: HarnessError) -> str:
    """What follows an error's line: a build's last lines, a guest's console tail and log."""
    if isinstance(error, BuildFailed) and error.tail:
        return f"--- last lines of {error.log} ---\n{error.tail.rstrip()}"
    if isinstance(error, GuestError):
        return error.details()
    return ""


@contextmanager
def clean_exit_on_signals() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into SystemExit so `finally` blocks tear guests down."""

    def handler(signum: int, frame: object) -> None:
        # Once: a second signal must not cut the teardown short.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def optional_seconds(option: str) -> Callable[[click.Context, click.Parameter, Any], float | None]:
    """A click callback: the option's value as checked seconds, or None if not given."""
    return lambda _ctx, _param, value: None if value is None else validate.seconds(value, option)


def source_options(func: F) -> F:
    func = click.option(
        "--kernel-config",
        "kernel_config",
        multiple=True,
        envvar="UMLHARNESS_KERNEL_CONFIG",
        type=click.Path(path_type=Path, dir_okay=False, exists=True),
        metavar="FRAGMENT",
        help="A Kconfig fragment laid over the harness's (repeatable; default: the "
        "project file's kernel-config). The kernel is built and cached apart.",
    )(func)
    func = click.option(
        "--kasan",
        is_flag=True,
        envvar="UMLHARNESS_KASAN",
        help="Use the KASAN kernel variant (built and cached apart).",
    )(func)
    func = click.option(
        "--cov",
        is_flag=True,
        envvar="UMLHARNESS_COV",
        help="Use the coverage kernel variant (gcov), drivers built with GCOV_PROFILE "
        "(built and cached apart; docs/coverage.md).",
    )(func)
    func = click.option(
        "--jobs",
        "-j",
        type=click.IntRange(min=1),
        default=os.cpu_count() or 1,
        show_default=True,
        help="Parallel make jobs for the kernel.",
    )(func)
    func = click.option(
        "--kernel",
        "series",
        envvar="UMLHARNESS_KERNEL",
        metavar="SERIES",
        help=f"The kernel series to build from its distro source: "
        f"{', '.join(supported_series())} (default: the project file's kernel, else "
        f"{DEFAULT_SERIES}).",
    )(func)
    func = click.option(
        "--source",
        type=click.Path(path_type=Path),
        envvar="UMLHARNESS_SOURCE",
        help="Kernel source: a .tar.* archive or an unpacked tree / git checkout "
        "(default: the project file's kernel-source, else the newest "
        "/usr/src/linux-source-*.tar.*).",
    )(func)
    return func


def drivers_option(func: F) -> F:
    return click.option(
        "--drivers",
        "drivers",
        multiple=True,
        envvar="UMLHARNESS_DRIVERS",
        type=click.Path(path_type=Path, file_okay=False),
        metavar="DIR",
        help="A drivers directory: module directories with a Kbuild file each "
        "(repeatable; default: the project file's drivers, else this tree's drivers/).",
    )(func)


def project() -> Project:
    """The project file the command runs under (read once, by the group)."""
    found = click.get_current_context().find_object(Project)
    return found if found is not None else Project()


def kernel_options(func: F) -> F:
    """The kernel's options, handed to `func` as one `kernel: KernelRequest`."""

    @functools.wraps(func)
    def with_kernel(
        *args: Any,
        source: Path | None,
        series: str | None,
        jobs: int,
        kasan: bool,
        cov: bool,
        kernel_config: tuple[Path, ...],
        **kwargs: Any,
    ) -> Any:
        if kasan and cov:
            raise click.UsageError("--kasan and --cov need kernels of their own: choose one")
        request = kernel_request(source, jobs, kasan, kernel_config, series, cov)
        return func(*args, kernel=request, **kwargs)

    return source_options(with_kernel)  # type: ignore[return-value]


def build_options(func: F) -> F:
    """The kernel's options and --drivers, handed to `func` as `build: ArtifactRequest`."""

    @functools.wraps(func)
    def with_build(*args: Any, drivers: tuple[Path, ...], kernel: KernelRequest, **kw: Any) -> Any:
        return func(*args, build=artifact_request(kernel, drivers), **kw)

    return kernel_options(drivers_option(with_build))  # type: ignore[return-value]


def kernel_request(
    source: Path | None,
    jobs: int,
    kasan: bool = False,
    kernel_config: tuple[Path, ...] = (),
    series: str | None = None,
    cov: bool = False,
) -> KernelRequest:
    settings = project()
    return KernelRequest(
        source=source or settings.kernel_source,
        series=series or settings.kernel or DEFAULT_SERIES,
        jobs=jobs,
        variant="kasan" if kasan else "cov" if cov else "default",
        user_fragments=tuple(p.resolve() for p in kernel_config) or settings.kernel_config,
    )


def artifact_request(kernel: KernelRequest, drivers: tuple[Path, ...]) -> ArtifactRequest:
    chosen = tuple(d.resolve() for d in drivers) or project().drivers
    return ArtifactRequest(kernel, drivers_dirs=chosen) if chosen else ArtifactRequest(kernel)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="umlharness")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Test Linux device drivers without the hardware, in User-Mode Linux.

    Settings come from the command line, then UMLHARNESS_* variables, then
    [tool.umlharness] in the nearest pyproject.toml (see docs/tutorial.md).
    """
    ctx.obj = Project.find()
    add_model_paths(ctx.obj)


@cli.group()
def kernel() -> None:
    """The UML kernel."""


@kernel.command("build")
@kernel_options
def kernel_build(kernel: KernelRequest) -> None:
    """Build the UML kernel (or find it in the cache) and print its path."""
    reporter = default_reporter()
    with reporter.session():
        built = build_kernel(kernel, reporter)
    click.echo(built.binary)


@kernel.command("list")
def kernel_list() -> None:
    """The kernel sources installed (and which series have a patch set) and the
    kernels built in the cache, with their cache keys."""
    supported = supported_series()
    sources = sorted(DISTRO_SOURCE_DIR.glob("linux-source-*.tar.*"))
    click.echo(f"supported series: {', '.join(supported)} (default {DEFAULT_SERIES})")
    for path in sources:
        series = KernelSource(path).series
        note = "" if series in supported else "  (no patch set: not buildable)"
        click.echo(f"source  {series:6} {path}{note}")
    if not sources:
        click.echo(
            f"source  none in {DISTRO_SOURCE_DIR}: apt-get install linux-source-{DEFAULT_SERIES}"
        )
    for built in built_kernels():
        took = f", built in {built.build_seconds:.0f}s" if built.build_seconds else ""
        click.echo(
            f"built   {built.release:10} {built.variant:8} key {built.key}  "
            f"from {built.source}{took}"
        )


@cli.group()
def drivers() -> None:
    """The drivers: module directories (with a Kbuild file) of the drivers directories."""


@drivers.command("build")
@build_options
def drivers_build(build: ArtifactRequest) -> None:
    """Build every module of the drivers directories against the kernel; print their paths."""
    reporter = default_reporter()
    with reporter.session():
        _, built = prepare_drivers(build, reporter)
    for module in built.modules:
        click.echo(module)


@cli.group()
def rootfs() -> None:
    """The guest's root file system."""


@rootfs.command("build")
@build_options
def rootfs_build(build: ArtifactRequest) -> None:
    """Build the busybox rootfs image and the drivers' module tree; print the image's path."""
    reporter = default_reporter()
    with reporter.session():
        built = prepare(build, reporter)
    click.echo(built.rootfs.image)


@cli.command()
@click.option(
    "--iomem",
    "iomem",
    multiple=True,
    metavar="NAME[=FILE][:SIZE]",
    help="An iomem region (repeatable). Without FILE a fresh zeroed file of "
    "SIZE (default 1M) is made for this boot.",
)
@click.option(
    "--run",
    "commands",
    multiple=True,
    metavar="CMD",
    help="Run CMD in the guest (repeatable), print its output, exit with the last "
    "command's status.",
)
@click.option(
    "--timeout",
    callback=optional_seconds("--timeout"),
    default=None,
    metavar="SECONDS",
    help="Seconds the whole run may take, boot included (default: none with a "
    "console, 300 with --run).",
)
@click.option("--umid", help="Name of this instance (default: a unique uh-XXXXXXXX).")
@click.option(
    "--mem",
    envvar="UMLHARNESS_MEM",
    help=f"Guest memory (default: the project file's mem, else {DEFAULT_MEM}).",
)
@click.option(
    "--share",
    type=click.Path(path_type=Path),
    help="Host directory to mount at /host in the guest (hostfs).",
)
@click.option(
    "--pci",
    "pci",
    multiple=True,
    metavar="MODEL[,KEY=VALUE...]",
    help="A PCI device served by a Python model over virt-pci (repeatable, up to 8). "
    "MODEL is a registered device (`sim devices`: rtl8111 with options mac, link for the "
    "kernel's r8169; pcitest with irq=msix|msi) or package.module:Class, a PciFunction "
    "of your own imported from the project file's model-paths or the current directory. "
    "KEY=VALUE options go to the model's constructor; strict=1 fails the run on a "
    "driver access outside the register map.",
)
@click.option(
    "--pci-timeout",
    callback=optional_seconds("--pci-timeout"),
    default=None,
    metavar="SECONDS",
    help="How long the guest waits for a PCI model's answer before the driver's access "
    "fails (Linux 6.3 and later; default 2; 6.1 waits about 40 ms).",
)
@click.option(
    "--trace",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Record every PCI config/MMIO access and interrupt to FILE "
    "(device pciN>0 to FILE.pciN); read it with `umlharness trace FILE`.",
)
@click.option(
    "--i2c",
    "i2c",
    multiple=True,
    metavar="MODEL@ADDRESS[,KEY=VALUE...]",
    help="An I2C device on the guest's virtio-i2c bus, placed by a devicetree so its "
    "in-tree driver binds (repeatable): lm75@0x48, pcf8563@0x51, opt3001@0x44,irq=gpio0:3, "
    "or package.module:Class@ADDRESS, an I2cModel of your own. irq=gpio0:LINE wires the "
    "chip's interrupt pin to a GPIO line; other KEY=VALUE options go to the model.",
)
@click.option(
    "--gpio",
    type=click.IntRange(0, 256),
    default=None,
    metavar="LINES",
    help="A virtio-gpio controller (gpio0) with LINES lines (default: 8 when an --i2c "
    "device names an irq line, else none). Drive them with `sim gpio`.",
)
@click.option(
    "--no-autoload",
    is_flag=True,
    help="Do not load drivers for the iomem regions, PCI and I2C devices, nor bring interfaces up.",
)
@build_options
def boot(
    iomem: tuple[str, ...],
    pci: tuple[str, ...],
    i2c: tuple[str, ...],
    gpio: int | None,
    pci_timeout: float | None,
    trace: Path | None,
    commands: tuple[str, ...],
    timeout: float | None,
    umid: str | None,
    mem: str | None,
    share: Path | None,
    no_autoload: bool,
    build: ArtifactRequest,
) -> None:
    """Boot a guest: run commands in it, or get its console.

    With a terminal and no --run, the console is yours; press Ctrl-] to stop
    the guest. Without a terminal, the guest runs (printing its kernel log)
    until it is stopped with `umlharness stop` or a signal.
    """
    # The checks BootRequest makes, made before a build that may take minutes.
    specs = [IomemSpec.parse(text) for text in iomem]
    check_unique(specs)
    devices = [PciSpec.parse(text) for text in pci]
    check_pci_count(devices)
    if trace is not None and not devices:
        raise HarnessError("--trace records PCI accesses: add a --pci device")
    board = BoardSpec.parse(i2c, gpio)
    if share is not None:
        share = validate.share(share)
    if umid is not None:
        validate.umid(umid)
    mem = mem or project().mem or DEFAULT_MEM
    validate.guest_memory_backing(mem)
    if timeout is None and commands:
        timeout = project().timeout
    with clean_exit_on_signals():
        _boot(
            specs,
            devices,
            board,
            pci_timeout,
            trace.resolve() if trace else None,
            commands,
            timeout,
            umid,
            mem,
            share,
            no_autoload,
            build,
        )


def _boot(
    specs: list[IomemSpec],
    devices: list[PciSpec],
    board: BoardSpec,
    pci_timeout: float | None,
    trace: Path | None,
    commands: tuple[str, ...],
    timeout: float | None,
    umid: str | None,
    mem: str,
    share: Path | None,
    no_autoload: bool,
    build: ArtifactRequest,
) -> None:
    reporter = default_reporter()
    with reporter.session():
        artifacts = prepare(build, reporter)
    # --timeout bounds the guest's run; building what was missing is not part of it.
    started = time.monotonic()
    if timeout is None and commands:
        timeout = 300.0
    interactive = not commands and sys.stdin.isatty() and sys.stdout.isatty()
    request = BootRequest(
        kernel=artifacts.kernel,
        rootfs=artifacts.rootfs,
        iomem=specs,
        pci=devices,
        pci_trace=trace,
        pci_timeout=pci_timeout,
        board=board,
        mem=mem,
        umid=umid,
        share=share,
        boot_timeout=min(timeout, 30.0) if timeout else 30.0,
        autoload=not no_autoload,
        kernel_echo=None if commands else _kernel_echo(raw_terminal=interactive),
    )
    gathering = _gather_coverage(build, artifacts)
    if commands:
        status = _run_commands(request, commands, started, timeout)
        _report_coverage(gathering)
        sys.exit(status)
    _console(request, artifacts, interactive)
    _report_coverage(gathering)


def _gather_coverage(build: ArtifactRequest, artifacts: Artifacts) -> coverage.Coverage | None:
    """With --cov: the guest's counts are collected as it powers off."""
    if build.kernel.variant != "cov":
        return None
    traces = Path(tempfile.mkdtemp(prefix="uhcov-"))
    gathering = coverage.Coverage(traces, artifacts.drivers, build.drivers_dirs)
    coverage.gather(artifacts.kernel.key, gathering)
    return gathering


def _report_coverage(gathering: coverage.Coverage | None) -> None:
    if gathering is None:
        return
    output = Path(coverage.REPORT_DIR).resolve()
    try:
        click.echo(gathering.report(output))
    finally:
        shutil.rmtree(gathering.directory, ignore_errors=True)
    click.echo(f"lcov: {output / 'coverage.info'}\nHTML: {output / 'html' / 'index.html'}")


def _kernel_echo(raw_terminal: bool) -> Callable[[str], None]:
    def echo(text: str) -> None:
        if raw_terminal:  # the terminal is in raw mode while interact() runs
            text = text.replace("\n", "\r\n")
        sys.stdout.write(text)
        sys.stdout.flush()

    return echo


def _run_commands(
    request: BootRequest, commands: tuple[str, ...], started: float, timeout: float | None
) -> int:
    deadline = started + timeout if timeout else None

    def remaining() -> float:
        if deadline is None:
            return 1e9
        left = deadline - time.monotonic()
        if left <= 0:
            raise GuestError(f"--timeout {timeout:g}s expired")
        return left

    instance = Instance.boot(request)
    with instance:
        status = 0
        for index, command in enumerate(commands, 1):
            if request.pci_trace is not None:
                instance.mark_step(index, command)  # a replay runs them step by step
            try:
                result = instance.run(command, timeout=remaining())
            except BootTimeout as expired:
                if deadline is not None and time.monotonic() >= deadline - 0.1:
                    expired.args = (f"--timeout {timeout:g}s expired while running {command!r}",)
                raise
            sys.stdout.write(result.output)
            sys.stdout.flush()
            status = result.exit_code
        instance.shutdown(timeout=min(10.0, remaining()))
    return status


def _console(request: BootRequest, artifacts: Artifacts, interactive: bool) -> None:
    instance = Instance.boot(request)
    with instance:
        click.echo(f"umid:      {instance.umid} (pid {instance.pid})", err=True)
        click.echo(f"umid dir:  {instance.umid_dir}", err=True)
        for name, path in instance.iomem_files.items():
            click.echo(f"iomem:     {name} = {path}", err=True)
        for backend in instance.pci:
            click.echo(f"pci:       {backend.slot} = {backend.spec} (log {backend.log})", err=True)
        if instance.board is not None:
            for spec in instance.board.spec.i2c:
                click.echo(f"i2c:       {spec}", err=True)
            if instance.board.spec.gpio:
                click.echo(f"gpio:      gpio0, {instance.board.spec.gpio} lines", err=True)
        click.echo(f"kernel:    {artifacts.kernel.binary}", err=True)
        click.echo(
            f"select:    export {registry.UMID_ENV}={instance.umid}  "
            "(then sim, exec and stop in that shell use this guest)",
            err=True,
        )
        if interactive:
            registry.set_console(instance.dir, registry.CONSOLE_INTERACTIVE)
            click.echo("console:   press Ctrl-] to stop the guest", err=True)
            instance.run("true")  # the shell is up; give the user a prompt
            instance.prepare_interactive()
            instance.interact(escape_character=ESCAPE_KEY)
            return
        registry.owner_stops(instance.dir)
        # The serving thread owns the console from here on; this one only waits.
        with remote_exec.serving(instance) as server:
            click.echo(
                "console:   not a terminal; run commands with `umlharness exec`, stop with "
                f"`umlharness stop {instance.umid}` or a signal",
                err=True,
            )
            try:
                server.wait()
            except SystemExit as stopping:
                if not server.stop(timeout=remote_exec.INTERRUPT_SECONDS):
                    raise
                instance.shutdown(timeout=5)  # a clean poweroff, drivers unbound
                if stopping.code != 128 + signal.SIGTERM:
                    raise
                # `umlharness stop` (SIGTERM) asked for this: a stop, not a failure.
                click.echo(f"stopped:   {instance.umid}", err=True)


@cli.command("ps")
def ps() -> None:
    """List running instances."""
    running = registry.instances()
    if not running:
        click.echo("no running instances")
        return
    for info in running:
        age = time.time() - info.started
        marks = "  [pytest session]" if info.by_pytest else ""
        marks += "  [serves exec]" if info.console == registry.CONSOLE_EXEC else ""
        click.echo(f"{info.umid}  pid {info.pid}  up {age:.0f}s  dir {info.umid_dir}{marks}")
        for name, path in info.iomem.items():
            click.echo(f"    iomem {name}: {path}")
        for slot, device in info.pci.items():
            if slot == BOARD_SLOT:
                for spec in device.options.get("i2c", "").split():
                    click.echo(f"    i2c {spec}")
                if device.options.get("gpio", "0") != "0":
                    click.echo(f"    gpio gpio0: {device.options['gpio']} lines")
                continue
            click.echo(f"    pci {slot}: {device.model} (control {device.control})")
        for sock in info.sockets:
            click.echo(f"    socket {sock.name}: {sock}")


@cli.command("trace")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--limit", type=click.IntRange(min=1), help="Show only the first N events.")
@click.option(
    "--import-model",
    is_flag=True,
    help="Import the model the trace names even if it is not built in (runs its code).",
)
def trace_command(file: Path, limit: int | None, import_model: bool) -> None:
    """Show a PCI trace (`boot --trace FILE`) decoded: register names, values, bit fields."""
    try:
        for count, line in enumerate(show(file, make_model, import_model)):
            if limit is not None and count > limit:
                break
            click.echo(line)
    except SimulatorError as error:
        raise HarnessError(str(error)) from None


def _fuzz_artifacts(series: str | None, drivers: tuple[Path, ...], variant: str) -> Artifacts:
    request = artifact_request(kernel_request(None, os.cpu_count() or 1, series=series), drivers)
    kernel = replace(request.kernel, variant=variant)
    return prepare(replace(request, kernel=kernel), default_reporter())


@cli.command("fuzz")
@click.argument("target")
@click.option(
    "--examples",
    type=click.IntRange(min=1),
    default=50,
    show_default=True,
    help="Examples to run, each in a fresh guest, shrinking runs included (a crash "
    "found is shrunk to the end, past this if need be).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("fuzz-crashes"),
    show_default=True,
    help="Where reproducers go (one per distinct crash).",
)
@click.option("--seed", type=int, help="Draw the same examples as another run with this seed.")
@click.option("--kernel", "series", envvar="UMLHARNESS_KERNEL", metavar="SERIES")
@drivers_option
def fuzz_command(
    target: str,
    examples: int,
    out: Path,
    seed: int | None,
    series: str | None,
    drivers: tuple[Path, ...],
) -> None:
    """Fuzz a driver from its device's side, each example in a fresh KASAN guest.

    TARGET: uh_thermo, uh_rtl8111, uh_fpga, uh_pcitest, r8169, or
    package.module:TARGET (a FuzzTarget of your own). Exits 1 if it found a
    crash; its reproducer replays with `umlharness replay`.
    """
    chosen = fuzz_target(target)
    artifacts = _fuzz_artifacts(series, drivers, "kasan")

    def show(number: int, outcome: fuzz.Outcome) -> None:
        found = outcome.finding
        what = "ok" if found is None else f"{found.kind}: {found.signature}"
        click.echo(f"example {number}: {what} ({outcome.seconds:.2f}s)", err=True)

    campaign = fuzz.Campaign(chosen, artifacts, out, examples, seed, on_example=show).run()
    rate = campaign.ran / campaign.seconds if campaign.seconds else 0.0
    click.echo(
        f"{chosen.name}: {campaign.ran} examples in {campaign.seconds:.1f}s ({rate:.2f}/s) "
        f"on {artifacts.kernel.release} kasan; {len(campaign.found)} distinct crash(es)"
    )
    for sig, path in sorted(campaign.found.items()):
        once = " (once: the same example did not crash again)" if sig in campaign.flaky else ""
        click.echo(f"  {sig}{once}\n    reproducer: {path}")
    if campaign.found:
        sys.exit(1)


@cli.command("replay")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--times", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--show-output", is_flag=True, help="Print what the commands printed (first run).")
@click.option(
    "--run",
    "commands",
    multiple=True,
    metavar="CMD",
    help="For a PCI trace (boot --trace): the commands to run, one per step "
    "(repeatable; default: those its boot --run ran).",
)
@click.option("--kernel", "series", envvar="UMLHARNESS_KERNEL", metavar="SERIES")
@drivers_option
def replay_command(
    file: Path,
    times: int,
    show_output: bool,
    commands: tuple[str, ...],
    series: str | None,
    drivers: tuple[Path, ...],
) -> None:
    """Play a reproducer (or a PCI trace) back to its driver with no model.

    Exits 1 if the guest crashed (or hung) on any run, 0 if the driver came
    through every time.
    """
    if reproducer.is_trace(file):
        default = series or project().kernel or DEFAULT_SERIES
        found = reproducer.Reproducer.of_trace(file, commands, default, "default")
    else:
        found = reproducer.Reproducer.load(file)
    artifacts = _fuzz_artifacts(series or found.series, drivers, found.variant)
    outcomes = []
    for run in range(1, times + 1):
        replayed = reproducer.replay(found, artifacts.kernel, artifacts.rootfs)
        outcomes.append(replayed.signature)
        what = replayed.signature or "no crash"
        click.echo(f"replay {run}/{times}: {what} ({replayed.seconds:.2f}s)", err=True)
        if replayed.divergence:
            click.echo(f"  diverged from the recording at {replayed.divergence}", err=True)
        if show_output and run == 1:
            for command, output in zip(found.workload, replayed.outputs, strict=False):
                click.echo(f"$ {command}\n{output}", nl=not output or not output.endswith("\n"))
        if replayed.crashed and run == 1:
            click.echo(replayed.trace, err=True)
    crashed = [sig for sig in outcomes if sig is not None]
    expected = found.crash.get("signature")
    same = sum(1 for sig in crashed if sig == expected) if expected else None
    summary = f"{file.name}: crashed {len(crashed)}/{times}"
    if same is not None:
        summary += f", as recorded {same}/{times}"
    click.echo(summary)
    if crashed:
        sys.exit(1)


@cli.command()
@click.argument("umid", required=False)
def stop(umid: str | None) -> None:
    """Stop the instance UMID, its whole process group, and remove its directory.

    Without UMID: the one $UMLHARNESS_UMID names, else the only one running
    outside a pytest session.
    """
    info = registry.stop(umid)
    click.echo(f"stopped {info.umid}")


@cli.command("exec", context_settings={"allow_interspersed_args": False})
@click.option(
    "--umid",
    metavar="ID",
    help="The instance (default: $UMLHARNESS_UMID, else the only one running "
    "outside a pytest session).",
)
@click.option(
    "--timeout",
    callback=lambda _ctx, _param, value: validate.seconds(value, "--timeout"),
    default=str(remote_exec.DEFAULT_TIMEOUT),
    show_default=True,
    metavar="SECONDS",
    help="Seconds the command may take; then exec fails and sends it Ctrl-C.",
)
@click.argument("command", nargs=-1, required=True)
def exec_command(umid: str | None, timeout: float, command: tuple[str, ...]) -> None:
    """Run COMMAND in a running guest, print its output, exit with its status.

    The guest is one booted by `umlharness boot` without a terminal, which
    serves the request. One argument is a shell command line (`exec 'dmesg |
    tail'`); several are the words of one command (`exec -- sh -c 'exit 3'`).
    """
    result = remote_exec.run_remote(umid, remote_exec.command_line(command), timeout)
    sys.stdout.write(result.output)
    sys.stdout.flush()
    sys.exit(result.exit_code)


def main() -> None:
    run_cli(cli, "umlharness", details=error_details)
