"""Fuzzing a driver from the device's side: hypothesis draws what the device
does, a fresh guest runs the driver through it, and a crash becomes a
reproducer (docs/fuzzing.md).

An example is a script: before each command of the target's workload, a
few device actions, each a `Poke` (raw bytes, reserved bits included, in
one register of the map: `simulators/strategies.py`) or an `Event` the
target names (an interrupt with no cause, a link change...). The example
runs in a new guest of the KASAN kernel; the device's side of it is
recorded (reproducer.py) so that a crash can be played back with no model.
`Campaign` runs examples until its budget is spent; hypothesis shrinks each
crash, and crashes are told apart by their signature (crash.signature).
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from simulators.attach import attach
from simulators.devices import device
from simulators.errors import SimulatorError
from simulators.handle import open_model
from simulators.regfile import layout_registers
from simulators.strategies import register_bytes

from .artifacts import Artifacts
from .errors import BootTimeout, GuestCrashed, HarnessError
from .instance import BootRequest, Instance
from .iomem import IomemSpec
from .pci import PciSpec
from .reproducer import COMMAND_TIMEOUT, Finding, IomemRecorder, Reproducer, pci_events

#: Device actions before one command, at most.
MAX_ACTIONS = 6


@dataclass(frozen=True)
class Poke:
    register: str
    data: bytes

    def __str__(self) -> str:
        return f"poke {self.register} {self.data.hex()}"


@dataclass(frozen=True)
class Event:
    name: str

    def __str__(self) -> str:
        return self.name


Action = Poke | Event
#: One tuple of actions per workload command, run before it.
Script = tuple[tuple[Action, ...], ...]


@dataclass(frozen=True)
class FuzzTarget:
    """A driver to fuzz: its device, the register map the pokes go to, what the
    guest runs (`workload`, which loads the driver: devices are not autoloaded)
    and the named events the script may use besides pokes."""

    name: str
    transport: str  # "iomem" or "pci"
    #: The device as --iomem or --pci gives it ("thermo", "fpga0:4M", "rtl8111").
    spec: str
    workload: tuple[str, ...]
    #: The registered device (simulators.devices) whose model serves it over iomem,
    #: and whose map the pokes go to; None: the bare region, with `layout`.
    device: str | None = None
    #: The register map (a construct Struct), if not the device's.
    layout: Any = None
    #: Where the model keeps its register file (an attribute path; PCI or iomem model).
    registers: str = "regs"
    #: Registers left as the model has them (an ID the probe checks first, say).
    fixed: frozenset[str] = frozenset()
    #: Named device actions: a function of the model (or, without one, of the
    #: iomem interrupt line).
    events: Mapping[str, Callable[[Any], None]] = field(default_factory=dict)
    #: The kernel's own module the workload loads (r8169): not one of the drivers built.
    in_tree: bool = False

    def __post_init__(self) -> None:
        if self.transport not in ("iomem", "pci"):
            raise HarnessError(f"fuzz target {self.name}: transport iomem or pci")
        if not self.workload:
            raise HarnessError(f"fuzz target {self.name}: an empty workload runs nothing")

    def register_map(self) -> Any:
        layout = self.layout
        if layout is None and self.device is not None:
            layout = device(self.device).layout
        if layout is None:
            raise HarnessError(f"fuzz target {self.name}: no register map (give its layout)")
        return layout


def scripts(target: FuzzTarget) -> st.SearchStrategy[Script]:
    """What the device may do before each command of the workload."""
    registers = {
        name: register
        for name, register in layout_registers(target.register_map()).items()
        if name not in target.fixed
    }
    pokes = st.sampled_from(sorted(registers)).flatmap(
        lambda name: register_bytes(registers[name]).map(functools.partial(Poke, name))
    )
    actions: st.SearchStrategy[Action] = pokes
    if target.events:
        actions = st.one_of(pokes, st.sampled_from(sorted(target.events)).map(Event))
    step = st.lists(actions, max_size=MAX_ACTIONS).map(tuple)
    return st.tuples(*[step for _ in target.workload])


@dataclass(frozen=True)
class Outcome:
    """How one example ended: `finding` is None when the driver came through."""

    finding: Finding | None
    seconds: float


def boot_request(target: FuzzTarget, artifacts: Artifacts, trace: Path | None) -> BootRequest:
    pci = target.transport == "pci"
    return BootRequest(
        artifacts.kernel,
        artifacts.rootfs,
        iomem=[] if pci else [IomemSpec.parse(target.spec)],
        pci=[PciSpec.parse(target.spec)] if pci else [],
        pci_trace=trace if pci else None,
        autoload=False,
        command_timeout=COMMAND_TIMEOUT,
    )


class _DeviceSide:
    """The device's side of one example: the model (or the bare region), the
    actions applied to it, and what the reproducer needs of them."""

    def __init__(self, target: FuzzTarget, vm: Instance) -> None:
        self.target = target
        self.vm = vm
        self._stack = contextlib.ExitStack()
        declared = device(target.device) if target.device is not None else None
        region = None if target.transport == "pci" else IomemSpec.parse(target.spec).name
        self.recorder = IomemRecorder(vm.iomem_files[region]) if region else None
        if target.transport == "pci":
            self.model: Any = self._stack.enter_context(contextlib.closing(vm.pci_model()))
            self.regs: Any = functools.reduce(getattr, target.registers.split("."), self.model)
        elif declared is not None and declared.model is not None:
            handle = self._stack.enter_context(open_model(declared, umid=vm.umid, region=region))
            self.model = handle.model
            self.regs = functools.reduce(getattr, target.registers.split("."), self.model)
        else:
            attached = self._stack.enter_context(
                attach(target.register_map(), umid=vm.umid, region=region, device=target.name)
            )
            self.model, self.regs = attached.irq, attached.regs

    def close(self) -> None:
        self._stack.close()

    def step(self, index: int, command: str, actions: tuple[Action, ...]) -> None:
        self.vm.mark_step(index, command)
        if self.recorder is not None:
            self.recorder.step(index, command)
        for action in actions:
            if isinstance(action, Poke):
                self.regs.poke(action.register, action.data)
                continue
            if self.recorder is not None:
                self.recorder.region()  # the pokes before the event, as it saw them
            try:
                self.target.events[action.name](self.model)
            except SimulatorError:
                continue  # not now (no driver listening yet, say): the device does nothing
            if self.recorder is not None:
                self.recorder.interrupt()
        if self.recorder is not None:
            self.recorder.region()


def run_example(target: FuzzTarget, script: Script, artifacts: Artifacts, work: Path) -> Outcome:
    """Boot a fresh guest, run the workload with `script`'s device actions; a crash
    or a hang is a Finding with the reproducer's contents."""
    started = time.monotonic()
    trace = work / "pci.trace"
    trace.unlink(missing_ok=True)
    side: _DeviceSide | None = None
    finding = None
    step = 0
    try:
        with Instance.boot(boot_request(target, artifacts, trace)) as vm:
            side = _DeviceSide(target, vm)
            try:
                for step, (command, actions) in enumerate(
                    zip(target.workload, script, strict=True), 1
                ):
                    side.step(step, command, actions)
                    vm.run(command)
            finally:
                side.close()
    except (GuestCrashed, BootTimeout) as failure:
        if side is None:
            raise  # the boot itself: not the driver's doing
        finding = Finding.of(failure, step, target.workload)
    if finding is not None:
        recorder = side.recorder if side is not None else None
        events = recorder.events if recorder is not None else pci_events(trace)
        finding = finding.with_device(events, ["; ".join(map(str, step)) for step in script])
    return Outcome(finding, time.monotonic() - started)


class _Crash(Exception):
    """A finding, to hypothesis: one subclass per signature, so that it shrinks
    each crash on its own and reports them all."""


@dataclass
class Campaign:
    """Examples of `target` until `examples` have run, shrinking runs included (a
    crash being shrunk is shrunk to the end, past the budget if need be);
    reproducers go to `out`.

    hypothesis ends a run once it has shrunk what it found, so the campaign
    starts another (with the next seed) until the budget is spent; a crash
    found in an earlier run no longer fails an example, so the search goes
    on elsewhere.
    """

    target: FuzzTarget
    artifacts: Artifacts
    out: Path
    examples: int = 50
    seed: int | None = None
    on_example: Callable[[int, Outcome], None] | None = None
    #: Signature -> the reproducer saved for it (the smallest example that hit it).
    found: dict[str, Path] = field(default_factory=dict)
    #: Signature -> how many examples ended in it.
    hits: dict[str, int] = field(default_factory=dict)
    #: Examples run, shrinking runs included.
    ran: int = 0
    seconds: float = 0.0

    @property
    def flaky(self) -> set[str]:
        """Crashes seen once: hypothesis ran the example again and it did not crash."""
        return {sig for sig in self.found if self.hits.get(sig, 0) < 2}

    def run(self) -> Campaign:
        started = time.monotonic()
        rounds = 0
        with tempfile.TemporaryDirectory(prefix="uhfuzz-") as work:
            while self.ran < self.examples:
                before = self.ran
                seed = None if self.seed is None else self.seed + rounds
                self._round(Path(work), self.examples - self.ran, seed, known=set(self.found))
                rounds += 1
                if self.ran == before:
                    break
        self.seconds = time.monotonic() - started
        return self

    def _round(self, work: Path, budget: int, seed: int | None, known: set[str]) -> None:
        kinds: dict[str, type[_Crash]] = {}

        @settings(
            max_examples=budget,
            deadline=None,
            database=None,
            report_multiple_bugs=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
            print_blob=False,
            verbosity=Verbosity.quiet,
        )
        @given(scripts(self.target))
        def example(script: Script) -> None:
            outcome = run_example(self.target, script, self.artifacts, work)
            self.ran += 1
            if self.on_example is not None:
                self.on_example(self.ran, outcome)
            finding = outcome.finding
            if finding is None:
                return
            self.hits[finding.signature] = self.hits.get(finding.signature, 0) + 1
            if finding.signature in known:
                return
            reproducer = Reproducer.of(self.target, self.artifacts.kernel, finding)
            # The last example of a signature is the smallest: hypothesis shrinks then replays it.
            self.found[finding.signature] = reproducer.save(self.out)
            kind = kinds.setdefault(finding.signature, type("Crash", (_Crash,), {}))
            raise kind(finding.signature)

        if seed is not None:
            example = hypothesis_seed(seed)(example)
        try:
            example()
        except Exception as error:
            if any(not isinstance(e, _Crash) for e in _flatten(error)):
                raise  # a harness error; the crashes are in `found`

    def check(self) -> None:
        """AssertionError naming each distinct crash and its reproducer, if any."""
        if self.found:
            lines = [
                f"{sig}{' (once)' if sig in self.flaky else ''}\n  reproducer: {path}"
                for sig, path in sorted(self.found.items())
            ]
            raise AssertionError(
                f"{self.target.name}: {len(self.found)} distinct crash(es) in {self.ran} "
                "examples:\n" + "\n".join(lines)
            )


def _flatten(error: BaseException) -> list[BaseException]:
    """The exceptions in hypothesis's group of distinct failures (or `error` alone)."""
    inner = getattr(error, "exceptions", None)
    if inner is None:
        return [error]
    return [leaf for each in inner for leaf in _flatten(each)]
