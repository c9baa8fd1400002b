"""pytest plugin: booted UML guests as fixtures, kernel crashes as test failures.

Registered through the `pytest11` entry point, so installing umlharness is
enough. Options share the `--uml-` prefix; each is also an environment
variable (`UMLHARNESS_…`), a key of the project file (`[tool.umlharness]` in
the pyproject.toml at or above pytest's rootdir, see project.py) and an ini
key (`uml_…`); that is also their order of precedence. Relative paths
resolve against the current directory on the command line and in the
environment, and against their file in the project file and the ini file.

    @pytest.mark.uml(iomem=["mock"], modules=["hello"])
    def test_driver(uml):
        assert uml.run("cat /sys/class/net/eth0/address").ok

    def test_two(uml_boot):
        a, b = uml_boot(iomem=["fpga0"]), uml_boot(iomem=["fpga1"])
"""

from __future__ import annotations

import os
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulators.devices import Device, devices, use_project
from simulators.errors import SimulatorError
from simulators.handle import open_model
from simulators.net.nic import Nic
from umlharness_shared import registry
from umlharness_shared.project import Project, add_model_paths

from . import coverage, paths, series, validate
from .artifacts import ArtifactRequest, Artifacts, prepare
from .board import BoardSpec
from .drivers import BuiltDrivers
from .errors import BuildFailed, GuestCrashed, HarnessError, ToolMissing
from .instance import DEFAULT_MEM, BootRequest, Instance
from .iomem import IomemSpec
from .kernel import KernelRequest, supported_series
from .pci import PciSpec
from .progress import LineReporter
from .source import DEFAULT_SERIES


@dataclass(frozen=True)
class Option:
    """One `--uml-NAME` option, with its ini key and environment variable."""

    name: str
    help: str
    default: str | None = None
    flag: bool = False

    @property
    def cli(self) -> str:
        return f"--uml-{self.name}"

    @property
    def ini(self) -> str:
        return "uml_" + self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return "UMLHARNESS_" + self.name.replace("-", "_").upper()


OPTIONS = (
    Option(
        "kernel",
        "kernel series to test on, from their distro sources, separated by ',' "
        "(6.1,6.12): each UML test runs once per kernel",
        DEFAULT_SERIES,
    ),
    Option("source", "kernel source: tarball, tree or git checkout (default: distro tarball)"),
    Option(
        "drivers",
        "drivers directories to build and install, separated by ':' "
        "(default: the project file's drivers, else the harness's drivers/)",
    ),
    Option("kernel-config", "Kconfig fragments laid over the harness's, separated by ':'"),
    Option("mem", "guest memory", DEFAULT_MEM),
    Option("timeout", "seconds a boot, and each command by default, may take", "60"),
    Option("keep", "keep console logs, dmesg and iomem snapshots of passing tests too", flag=True),
    Option("kasan", "use the KASAN kernel variant (built on first use)", flag=True),
    Option(
        "cov",
        "driver coverage: the cov kernel variant, drivers built with gcov, a report in "
        "uml-coverage/ (lcov and HTML) and a summary at the end",
        flag=True,
    ),
    Option("strict", "fail tests whose driver accesses bytes outside the register map", flag=True),
)
#: Options whose project file key is not their name.
PROJECT_KEYS = {"source": "kernel-source"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("umlharness", "umlharness: drivers in User-Mode Linux")
    for option in OPTIONS:
        if option.flag:
            group.addoption(option.cli, action="store_true", default=None, help=option.help)
            parser.addini(option.ini, option.help, type="bool", default=False)
        else:
            group.addoption(option.cli, default=None, help=f"{option.help} [{option.env}]")
            parser.addini(option.ini, option.help, default=option.default)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "uml(iomem=[...], pci=[...], i2c=[...], gpio=N, modules=[...], autoload=True, "
        "mem=None, share=None, strict=False, kernel='>=6.3'): "
        "how the `uml` fixture boots its guest",
    )
    # A bad option is one usage error now, not the same traceback in every test.
    try:
        project = Project.find(config.inipath.parent if config.inipath else config.rootpath)
        add_model_paths(project)
        config.stash[_SETTINGS] = UmlSettings.from_config(config, project)
    except HarnessError as error:
        raise pytest.UsageError(f"umlharness: {error}") from None
    use_project(project)
    _register_device_fixtures(config)


def option_value(config: pytest.Config, name: str, project: Project | None = None) -> Any:
    """The option's value: command line, then environment, then the project
    file, then ini, then default."""
    return option_source(config, name, project or Project())[0]


def option_source(config: pytest.Config, name: str, project: Project) -> tuple[Any, Path]:
    """The option's value and the directory its relative paths resolve against."""
    option = next(o for o in OPTIONS if o.name == name)
    given = config.getoption(option.cli)
    if given is not None:
        return given, config.invocation_params.dir
    if option.env in os.environ:
        raw = os.environ[option.env]
        value = raw.lower() in {"1", "yes", "true", "on"} if option.flag else raw
        return value, config.invocation_params.dir
    key = PROJECT_KEYS.get(name, name)
    if key in project.keys:
        return _project_value(project, key), Path("/")
    ini_dir = config.inipath.parent if config.inipath else config.rootpath
    return config.getini(option.ini), ini_dir


def _project_value(project: Project, key: str) -> Any:
    """The project file's value in the plugin's form (paths already absolute)."""
    value = getattr(project, key.replace("-", "_"))
    if isinstance(value, tuple):
        return ":".join(str(path) for path in value)
    return str(value)


def _named(name: str) -> str:
    """How the user may have given option `name`, for an error about its value."""
    option = next(o for o in OPTIONS if o.name == name)
    return f"{option.cli} ({option.env}, ini {option.ini})"


@dataclass
class UmlSettings:
    """The plugin's options, resolved once per session."""

    source: Path | None
    kernels: tuple[str, ...]
    drivers: tuple[Path, ...]
    kernel_config: tuple[Path, ...]
    mem: str
    timeout: float
    keep: bool
    kasan: bool
    strict: bool = False
    cov: bool = False

    @property
    def variant(self) -> str:
        return "kasan" if self.kasan else "cov" if self.cov else "default"

    @classmethod
    def from_config(cls, config: pytest.Config, project: Project | None = None) -> UmlSettings:
        project = project or Project()
        source, source_base = option_source(config, "source", project)
        drivers = _path_list(config, "drivers", project)
        for directory in drivers:
            if not directory.is_dir():
                raise HarnessError(f"{_named('drivers')}: {directory} is not a directory")
        return cls(
            source=source_base / source if source else None,
            kernels=_checked_kernels(str(option_value(config, "kernel", project))),
            drivers=drivers or (paths.drivers_dir(),),
            kernel_config=_path_list(config, "kernel-config", project),
            mem=_checked_mem(str(option_value(config, "mem", project))),
            timeout=validate.seconds(option_value(config, "timeout", project), _named("timeout")),
            keep=bool(option_value(config, "keep", project)),
            kasan=bool(option_value(config, "kasan", project)),
            strict=bool(option_value(config, "strict", project)),
            cov=_checked_cov(config, project),
        )


def _checked_cov(config: pytest.Config, project: Project) -> bool:
    cov = bool(option_value(config, "cov", project))
    if cov and option_value(config, "kasan", project):
        raise HarnessError(
            f"{_named('cov')} and {_named('kasan')} need kernels of their own: choose one"
        )
    return cov


def _path_list(config: pytest.Config, name: str, project: Project) -> tuple[Path, ...]:
    value, base = option_source(config, name, project)
    return tuple((base / part).resolve() for part in str(value or "").split(":") if part)


def _checked_kernels(text: str) -> tuple[str, ...]:
    kernels = series.parse_list(text, _named("kernel"))
    for one in kernels:
        if one not in supported_series():
            raise HarnessError(
                f"{_named('kernel')}: no patch set for Linux {one} "
                f"(supported: {', '.join(supported_series())})"
            )
    return kernels


def _checked_mem(text: str) -> str:
    validate.guest_memory(text, _named("mem"))
    return text


_SETTINGS = pytest.StashKey[UmlSettings]()


@pytest.fixture(scope="session")
def uml_settings(pytestconfig: pytest.Config) -> UmlSettings:
    return pytestconfig.stash[_SETTINGS]


@pytest.fixture(scope="session")
def uml_kernel(request: pytest.FixtureRequest, uml_settings: UmlSettings) -> str:
    """The kernel series this test's guests run ("6.1"); with several `--uml-kernel`
    series, tests run once per series (ids ending [6.1], [6.12])."""
    return str(getattr(request, "param", uml_settings.kernels[0]))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "uml_kernel" not in metafunc.fixturenames:
        return
    settings = metafunc.config.stash[_SETTINGS]
    marker = metafunc.definition.get_closest_marker("uml")
    wanted = str(marker.kwargs.get("kernel", "")) if marker else ""
    if len(settings.kernels) == 1 and not wanted:
        return
    params = []
    for kernel in settings.kernels:
        marks = []
        if wanted and not series.matches(kernel, wanted):
            marks.append(pytest.mark.skip(reason=f"needs kernel {wanted}, not {kernel}"))
        params.append(pytest.param(kernel, id=kernel, marks=marks))
    metafunc.parametrize("uml_kernel", params, indirect=True, scope="session")


@pytest.fixture(scope="session")
def uml_artifacts(
    uml_settings: UmlSettings, uml_kernel: str, pytestconfig: pytest.Config
) -> Artifacts:
    """Kernel, drivers and rootfs for the session: from the cache, or built (minutes)."""
    # Instances a killed earlier run left behind are reaped before anything boots.
    registry.instances(reap_stale=True)
    artifacts = artifacts_for(pytestconfig, uml_kernel, uml_settings.variant)
    if uml_settings.cov:
        coverage.gather(
            artifacts.kernel.key,
            coverage.Coverage(
                _traces(pytestconfig),
                artifacts.drivers,
                uml_settings.drivers,
            ),
        )
    return artifacts


def session_kernels(config: pytest.Config) -> tuple[str, ...]:
    """The kernel series the session runs (--uml-kernel)."""
    return config.stash[_SETTINGS].kernels


def artifacts_for(config: pytest.Config, kernel: str, variant: str) -> Artifacts:
    """The session's drivers built against kernel series `kernel`'s `variant`;
    skips the test when a tool or the kernel source is missing."""
    settings = config.stash[_SETTINGS]
    request = ArtifactRequest(
        kernel=KernelRequest(
            source=settings.source,
            series=kernel,
            variant=variant,
            user_fragments=settings.kernel_config,
        ),
        drivers_dirs=settings.drivers,
    )
    try:
        return prepare(request, LineReporter())
    except ToolMissing as missing:  # a missing package or kernel source (NoKernelSource)
        pytest.skip(f"umlharness: {missing}")


def _traces(config: pytest.Config) -> Path:
    """Where the session's guests leave their coverage tracefiles (all xdist workers)."""
    return Path(config.rootpath) / coverage.REPORT_DIR / "traces"


def pytest_sessionstart(session: pytest.Session) -> None:
    config = session.config
    if config.stash[_SETTINGS].cov and not hasattr(config, "workerinput"):
        traces = _traces(config)
        if traces.is_symlink():
            raise pytest.UsageError(f"umlharness: {traces} is a symlink; not writing there")
        for tracefile in traces.glob("*.json"):  # the last session's: this one reports its own
            tracefile.unlink()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    settings = config.stash.get(_SETTINGS, None)
    if settings is None or not settings.cov or hasattr(config, "workerinput"):
        return
    output = Path(config.rootpath) / coverage.REPORT_DIR
    report = coverage.Coverage(_traces(config), BuiltDrivers(()), settings.drivers)
    terminalreporter.section("umlharness: driver coverage")
    try:
        terminalreporter.write(report.report(output))
    except HarnessError as error:
        terminalreporter.write_line(f"umlharness: no coverage report: {error}", red=True)
        return
    terminalreporter.write_line(f"lcov: {output / 'coverage.info'}")
    terminalreporter.write_line(f"HTML: {output / 'html' / 'index.html'}")


@dataclass
class _Booted:
    """The guests one test booted, for teardown and the failure report."""

    instances: list[Instance] = field(default_factory=list)


BootFactory = Callable[..., Instance]


@pytest.fixture
def uml_boot(
    request: pytest.FixtureRequest,
    uml_artifacts: Artifacts,
    uml_settings: UmlSettings,
    tmp_path: Path,
) -> Iterator[BootFactory]:
    """A factory: `uml_boot(iomem=[...], modules=[...], ...)` boots a guest for this test."""
    booted = _Booted()
    request.node.stash[_BOOTED] = booted

    def boot(
        iomem: Sequence[str | IomemSpec] = (),
        modules: Sequence[str] = (),
        autoload: bool = True,
        mem: str | None = None,
        share: Path | None = None,
        timeout: float | None = None,
        pci: Sequence[str | PciSpec] = (),
        trace: Path | None = None,
        pci_timeout: float | None = None,
        i2c: Sequence[str] = (),
        gpio: int | None = None,
    ) -> Instance:
        specs = [s if isinstance(s, IomemSpec) else IomemSpec.parse(s) for s in iomem]
        boot_request = BootRequest(
            uml_artifacts.kernel,
            uml_artifacts.rootfs,
            iomem=specs,
            pci=[d if isinstance(d, PciSpec) else PciSpec.parse(d) for d in pci],
            pci_trace=trace,
            pci_timeout=pci_timeout,
            board=BoardSpec.parse(i2c, gpio),
            mem=mem or uml_settings.mem,
            share=share,
            autoload=autoload,
            boot_timeout=timeout or uml_settings.timeout,
            command_timeout=timeout or uml_settings.timeout,
            by_pytest=True,
        )
        instance = Instance.boot(boot_request)
        booted.instances.append(instance)
        for module in modules:
            instance.check(f"modprobe {module}")
        return instance

    yield boot

    failed = _test_failed(request.node)
    for instance in booted.instances:
        target = tmp_path / "uml" / instance.umid
        kept = failed or uml_settings.keep
        if kept:
            _save_artefacts(instance, target, request.node)
        if instance.alive:
            instance.shutdown(timeout=5)
        else:
            instance.kill()
        # The kernel log is read to its end now: a crash that came after the
        # test's body (while the guest powered off, say) fails the test too.
        if not kept and instance.crash_report() is not None:
            _save_artefacts(instance, target, request.node)


@pytest.fixture
def uml(
    request: pytest.FixtureRequest, uml_boot: BootFactory, uml_settings: UmlSettings
) -> Instance:
    """A guest booted as the test's `@pytest.mark.uml(...)` marker says (default: plain)."""
    marker = request.node.get_closest_marker("uml")
    kwargs = dict(marker.kwargs) if marker else {}
    kwargs.pop("kernel", None)  # which kernels: pytest_generate_tests
    strict = bool(kwargs.pop("strict", uml_settings.strict))
    request.node.stash[_STRICT] = strict
    if strict:
        # Over PCI the backend sees every access: it fails the run on one outside the map.
        kwargs["pci"] = [_strict_pci(spec) for spec in kwargs.get("pci", ())]
    return uml_boot(**kwargs)


def _strict_pci(spec: str | PciSpec) -> str:
    text = str(spec)
    return text if ",strict=" in text else f"{text},strict=1"


_STRICT = pytest.StashKey[bool]()


@pytest.fixture
def nic(uml: Instance, request: pytest.FixtureRequest) -> Iterator[Nic]:
    """The `uml` guest's network card as scapy packets (send, expect, capture; see
    simulators/net/nic.py): its first registered network device, e.g. with
    @pytest.mark.uml(pci=["rtl8111,host=192.0.2.1/24"])."""
    strict = request.node.stash.get(_STRICT, False)
    tried = []
    for device in devices().values():
        if not device.network:
            continue
        try:
            handle = open_model(device, umid=uml.umid, strict=strict)
        except SimulatorError:
            tried.append(device.name)
            continue
        with handle, handle.explain():
            yield Nic(handle.model)
        return
    raise pytest.UsageError(
        f"the guest has no network device ({', '.join(tried) or 'none registered'}): "
        'give it one, e.g. @pytest.mark.uml(pci=["rtl8111"])'
    )


def _model_fixture(device: Device[Any]) -> Any:
    """A fixture named after `device`: the `uml` guest's model of it, over the
    device's iomem region if the guest has it, else over its PCI device.

    Closing the model at teardown raises what it raised in a hook or thread
    (ModelError) and, in strict mode, the driver's writes outside the
    register map over iomem (UnmappedAccess): either fails the test.
    """

    def model(uml: Instance, request: pytest.FixtureRequest) -> Iterator[Any]:
        strict = request.node.stash.get(_STRICT, False)
        with open_model(device, umid=uml.umid, strict=strict) as handle, handle.explain():
            yield handle.model

    where = [f"iomem=[{device.region!r}]"] if device.region else []
    where += [f"pci=[{device.name!r}]"] if device.pci_model else []
    where += [f"i2c=['{device.name}@ADDRESS']"] if device.i2c_model else []
    model.__doc__ = (
        f"The `uml` guest's {device.label} model; mark the test with "
        f"@pytest.mark.uml({' or '.join(where)})."
    )
    return pytest.fixture(name=device.name)(model)


def _register_device_fixtures(config: pytest.Config) -> None:
    """One fixture per registered device that has a model (simulators.devices),
    the project file's devices included, in a plugin of their own."""
    try:
        registered = devices()
    except HarnessError as error:  # a broken device package must not break pytest
        warnings.warn(f"umlharness: no device fixtures: {error}", stacklevel=1)
        return
    if config.pluginmanager.has_plugin("umlharness-devices"):
        return
    holder = types.ModuleType("umlharness_device_fixtures")
    for device in registered.values():
        if device.fixture and device.model is not None:
            setattr(holder, f"_device_fixture_{device.name}", _model_fixture(device))
    config.pluginmanager.register(holder, "umlharness-devices")


def _fail_on_late_crash(report: pytest.TestReport, booted: _Booted) -> None:
    """Fail a test whose guest crashed after its body was checked (seen at teardown)."""
    for instance in booted.instances:
        crash = instance.crash_report()
        if crash is not None:
            report.outcome = "failed"
            report.longrepr = (
                f"guest kernel {crash.kind} in {instance.umid} after the test's body "
                f"(found at teardown):\n{crash.trace}"
            )
            return


def _report_build_failure_once(item: pytest.Item, report: pytest.TestReport, error: object) -> None:
    """A failed build errors every test that needs it: the first shows the
    compiler's words (the user's file and line), the others point there."""
    if not isinstance(error, BuildFailed):
        return
    first = item.config.stash.setdefault(_BUILD_FAILURES, {}).setdefault(id(error), item.nodeid)
    if first == item.nodeid:
        report.longrepr = f"umlharness: {error}"
    else:
        report.longrepr = f"umlharness: the build failed; its error is reported at {first}"


_BUILD_FAILURES = pytest.StashKey[dict[int, str]]()
_BOOTED = pytest.StashKey[_Booted]()
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def _test_failed(item: pytest.Item) -> bool:
    reports = item.stash.get(_REPORTS, {})
    return any(report.failed for report in reports.values())


def _save_artefacts(instance: Instance, target: Path, item: pytest.Item) -> None:
    """Console log, kernel log (dmesg), backend logs and register snapshots, kept
    under the test's tmp path."""
    instance.keep_files(target)
    dmesg = target / "dmesg.txt"
    dmesg.write_text(instance.kernel_log)
    dmesg.chmod(0o600)
    item.add_report_section("teardown", "uml artefacts", f"{instance.umid}: {target}")
    item.user_properties.append(("uml_artefacts", str(target)))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report: pytest.TestReport = yield
    reports = item.stash.setdefault(_REPORTS, {})
    reports[report.when] = report
    if report.when == "setup" and call.excinfo is not None:
        _report_build_failure_once(item, report, call.excinfo.value)
    booted = item.stash.get(_BOOTED, None)
    if booted is None:
        return report
    if report.when == "teardown":
        call_report = reports.get("call")
        if call_report is not None and call_report.passed:
            _fail_on_late_crash(report, booted)
        return report
    if report.when != "call":
        return report
    # A crash the test did not trip over (a WARN while it checked something else)
    # still fails it; one it did trip over already carries its trace.
    for instance in booted.instances:
        crash = instance.crash_report()
        if crash is None:
            continue
        if isinstance(call.excinfo.value if call.excinfo else None, GuestCrashed):
            break
        report.outcome = "failed"
        report.longrepr = f"guest kernel {crash.kind} in {instance.umid}:\n{crash.trace}"
        break
    if call.excinfo is not None and isinstance(call.excinfo.value, GuestCrashed):
        crashed = call.excinfo.value
        report.sections.append(("uml kernel trace", f"{crashed}\n{crashed.trace}"))
    return report
