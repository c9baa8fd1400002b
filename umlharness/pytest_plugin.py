"""pytest plugin: booted UML guests as fixtures, kernel crashes as test failures.

Registered through the `pytest11` entry point, so installing umlharness is
enough. Options share the `--uml-` prefix; each is also an ini key (`uml_…`)
and an environment variable (`UMLHARNESS_…`); the command line wins, then the
environment, then the ini file.

    @pytest.mark.uml(iomem=["mock"], modules=["hello"])
    def test_driver(uml):
        assert uml.run("cat /sys/class/net/eth0/address").ok

    def test_two(uml_boot):
        a, b = uml_boot(iomem=["fpga0"]), uml_boot(iomem=["fpga1"])
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from simulators.devices import Device, devices
from simulators.handle import open_model
from umlharness_shared import registry

from . import paths, validate
from .artifacts import ArtifactRequest, Artifacts, prepare
from .errors import GuestCrashed, HarnessError, ToolMissing
from .instance import DEFAULT_MEM, BootRequest, Instance
from .iomem import IomemSpec
from .kernel import KernelRequest
from .pci import PciSpec
from .progress import LineReporter


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
    Option("source", "kernel source: tarball, tree or git checkout (default: distro tarball)"),
    Option(
        "drivers",
        "drivers directories to build and install, separated by ':' "
        "(default: the project's drivers/)",
    ),
    Option("mem", "guest memory", DEFAULT_MEM),
    Option("timeout", "seconds a boot, and each command by default, may take", "60"),
    Option("keep", "keep console logs, dmesg and iomem snapshots of passing tests too", flag=True),
    Option("kasan", "use the KASAN kernel variant (built on first use)", flag=True),
)


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
        "uml(iomem=[...], pci=[...], modules=[...], autoload=True, mem=None, share=None): "
        "how the `uml` fixture boots its guest",
    )
    # A bad option is one usage error now, not the same traceback in every test.
    try:
        config.stash[_SETTINGS] = UmlSettings.from_config(config)
    except HarnessError as error:
        raise pytest.UsageError(f"umlharness: {error}") from None


def option_value(config: pytest.Config, name: str) -> Any:
    """The option's value: command line, then environment, then ini, then default."""
    option = next(o for o in OPTIONS if o.name == name)
    given = config.getoption(option.cli)
    if given is not None:
        return given
    if option.env in os.environ:
        raw = os.environ[option.env]
        return raw.lower() in {"1", "yes", "true", "on"} if option.flag else raw
    return config.getini(option.ini)


def _named(name: str) -> str:
    """How the user may have given option `name`, for an error about its value."""
    option = next(o for o in OPTIONS if o.name == name)
    return f"{option.cli} ({option.env}, ini {option.ini})"


@dataclass
class UmlSettings:
    """The plugin's options, resolved once per session."""

    source: Path | None
    drivers: tuple[Path, ...]
    mem: str
    timeout: float
    keep: bool
    kasan: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> UmlSettings:
        source = option_value(config, "source")
        drivers = option_value(config, "drivers")
        return cls(
            source=Path(source) if source else None,
            drivers=tuple(Path(d) for d in drivers.split(":"))
            if drivers
            else (paths.drivers_dir(),),
            mem=_checked_mem(str(option_value(config, "mem"))),
            timeout=validate.seconds(option_value(config, "timeout"), _named("timeout")),
            keep=bool(option_value(config, "keep")),
            kasan=bool(option_value(config, "kasan")),
        )


def _checked_mem(text: str) -> str:
    validate.guest_memory(text, _named("mem"))
    return text


_SETTINGS = pytest.StashKey[UmlSettings]()


@pytest.fixture(scope="session")
def uml_settings(pytestconfig: pytest.Config) -> UmlSettings:
    return pytestconfig.stash[_SETTINGS]


@pytest.fixture(scope="session")
def uml_artifacts(uml_settings: UmlSettings) -> Artifacts:
    """Kernel, drivers and rootfs for the session: from the cache, or built (minutes)."""
    # Instances a killed earlier run left behind are reaped before anything boots.
    registry.instances(reap_stale=True)
    request = ArtifactRequest(
        kernel=KernelRequest(
            source=uml_settings.source, variant="kasan" if uml_settings.kasan else "default"
        ),
        drivers_dirs=uml_settings.drivers,
    )
    try:
        return prepare(request, LineReporter())
    except ToolMissing as missing:  # a missing package or kernel source (NoKernelSource)
        pytest.skip(f"umlharness: {missing}")


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
    ) -> Instance:
        specs = [s if isinstance(s, IomemSpec) else IomemSpec.parse(s) for s in iomem]
        boot_request = BootRequest(
            uml_artifacts.kernel,
            uml_artifacts.rootfs,
            iomem=specs,
            pci=[d if isinstance(d, PciSpec) else PciSpec.parse(d) for d in pci],
            pci_trace=trace,
            mem=mem or uml_settings.mem,
            share=share,
            autoload=autoload,
            boot_timeout=timeout or uml_settings.timeout,
            command_timeout=timeout or uml_settings.timeout,
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
def uml(request: pytest.FixtureRequest, uml_boot: BootFactory) -> Instance:
    """A guest booted as the test's `@pytest.mark.uml(...)` marker says (default: plain)."""
    marker = request.node.get_closest_marker("uml")
    kwargs = dict(marker.kwargs) if marker else {}
    return uml_boot(**kwargs)


def _model_fixture(device: Device[Any]) -> Any:
    """A fixture named after `device`: the `uml` guest's model of it, over the
    device's iomem region if the guest has it, else over its PCI device."""

    def model(uml: Instance) -> Iterator[Any]:
        with open_model(device, umid=uml.umid) as handle, handle.explain():
            yield handle.model

    where = [f"iomem=[{device.region!r}]"] if device.region else []
    where += [f"pci=[{device.name!r}]"] if device.pci_model else []
    model.__doc__ = (
        f"The `uml` guest's {device.label} model; mark the test with "
        f"@pytest.mark.uml({' or '.join(where)})."
    )
    return pytest.fixture(name=device.name)(model)


def _register_device_fixtures() -> None:
    """One fixture per registered device that has a model (simulators.devices)."""
    try:
        registered = devices()
    except HarnessError as error:  # a broken device package must not break pytest
        warnings.warn(f"umlharness: no device fixtures: {error}", stacklevel=1)
        return
    for device in registered.values():
        if device.fixture and device.model is not None:
            globals()[f"_device_fixture_{device.name}"] = _model_fixture(device)


_register_device_fixtures()


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
