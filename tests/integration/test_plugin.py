"""The pytest plugin, run the way driver developers run it (pytester, real UML)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from umlharness.paths import PROJECT_ROOT, cache_dir
from umlharness_shared.procs import pid_alive

pytestmark = pytest.mark.slow

#: pytester gives each run a HOME of its own; keep using the real cache.
CACHE = str(cache_dir())


@pytest.fixture(autouse=True)
def shared_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UMLHARNESS_CACHE", CACHE)


DRIVERS = f"--uml-drivers={PROJECT_ROOT / 'drivers'}:{PROJECT_ROOT / 'tests' / 'crashers'}"


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(DRIVERS, "-p", "no:cacheprovider", *args, timeout=900)


def test_marker_boots_guest_with_region_and_modules(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.uml(iomem=["mock"], modules=["hello"])
        def test_guest(uml):
            assert "uh_rtl8111" in uml.check("lsmod")
            assert "hello" in uml.check("lsmod")
            assert uml.iomem_files["mock"].exists()

        @pytest.mark.uml(iomem=["mock"])
        def test_simulator_fixture(uml, rtl8111):
            uml.check("ip link set eth0 up")
            rtl8111.link_up(speed=100)
            state = uml.check("cat /sys/class/net/eth0/carrier /sys/class/net/eth0/speed")
            assert state.split() == ["1", "100"]

        def test_factory(uml_boot):
            one, two = uml_boot(), uml_boot(iomem=["regs:4K"])
            assert one.umid != two.umid
            assert two.run("true").ok
        """
    )
    run(pytester).assert_outcomes(passed=3)


def test_crashes_fail_only_their_own_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_oops(uml):
            uml.run("modprobe uh_oops")

        def test_panic(uml):
            uml.run("modprobe uh_panic")

        def test_hang(uml):
            uml.run("modprobe uh_hang", timeout=5)

        def test_warn(uml):
            uml.run("modprobe uh_warn")

        def test_fine(uml):
            assert uml.check("echo ok") == "ok\\n"
        """
    )
    started = time.monotonic()
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=4)
    output = result.stdout.str()
    assert "Kernel mode fault at addr 0x0" in output and "Call Trace" in output
    assert "uh_panic: deliberate panic" in output
    assert "modprobe uh_hang" in output and "no answer within" in output
    assert "uh_warn: deliberate warning" in output
    # The WARN names the driver's own source (relative to its project, so that
    # every checkout shares the build), not the build's temporary copy.
    assert "at tests/crashers/uh_warn/uh_warn.c:" in output
    assert time.monotonic() - started < 300


def test_failure_keeps_artefacts_and_junit_xml(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.uml(iomem=["mock"])
        def test_fails(uml):
            uml.check("echo marker-in-console")
            assert False, "deliberate"
        """
    )
    result = run(pytester, "--junitxml=report.xml", f"--basetemp={pytester.path / 'tmp'}")
    result.assert_outcomes(failed=1)
    artefacts = list((pytester.path / "tmp").rglob("uml/uh-*"))
    assert len(artefacts) == 1
    names = {p.name for p in artefacts[0].iterdir()}
    assert {"console.log", "kernel.log", "dmesg.txt", "iomem-mock.bin"} <= names
    assert "RTL8111 on iomem 'mock'" in (artefacts[0] / "dmesg.txt").read_text()
    assert str(artefacts[0]) in result.stdout.str()
    report = (pytester.path / "report.xml").read_text()
    assert 'failures="1"' in report and "uml_artefacts" in report


def test_options_from_env_and_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makeini("[pytest]\numl_mem = 96M\numl_timeout = 45\n")
    pytester.makepyfile(
        """
        def test_settings(uml_settings):
            assert uml_settings.mem == "80M"      # the environment beats the ini file
            assert uml_settings.timeout == 12.0   # the command line beats both
        """
    )
    monkeypatch.setenv("UMLHARNESS_MEM", "80M")
    monkeypatch.setenv("UMLHARNESS_TIMEOUT", "30")
    run(pytester, "--uml-timeout=12").assert_outcomes(passed=1)


def test_uml_timeout_bounds_commands_that_name_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_slow_command(uml):
            uml.run("sleep 30")

        def test_own_timeout_wins(uml):
            assert uml.run("sleep 6 && echo done", timeout=20).output == "done\\n"
        """
    )
    started = time.monotonic()
    result = run(pytester, "--uml-timeout=5", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    assert "run 'sleep 30': no answer within 5s" in result.stdout.str()
    assert time.monotonic() - started < 28


def test_parallel_boots_leave_nothing_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(20))
        def test_boot(uml, n):
            assert uml.check(f"echo {n}") == f"{n}\\n"
        """
    )
    # A run directory of its own, so guests booted elsewhere meanwhile do not count.
    own_run_dir = pytester.path / "run"
    monkeypatch.setenv("UMLHARNESS_RUN", str(own_run_dir))
    run(pytester, "-n", "2").assert_outcomes(passed=20)
    assert list(own_run_dir.iterdir()) == []


def test_sigkilled_run_is_reaped_by_the_next(pytester: pytest.Pytester, tmp_path: Path) -> None:
    marker = tmp_path / "booted"
    pytester.makepyfile(
        f"""
        import time
        from pathlib import Path

        def test_sleeps(uml):
            Path({str(marker)!r}).write_text(f"{{uml.pid}} {{uml.dir}}")
            time.sleep(600)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", DRIVERS, "-p", "no:cacheprovider"],
        cwd=pytester.path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CI": "1"},
    )
    try:
        deadline = time.monotonic() + 300
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert marker.exists(), "the guest never booted"
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    pid_text, directory = marker.read_text().split()
    pid = int(pid_text)
    pytester.makepyfile("def test_nothing(uml_artifacts):\n    pass\n")
    run(pytester).assert_outcomes(passed=1)
    assert not pid_alive(pid)
    assert not Path(directory).exists()


def test_kasan_catches_use_after_free(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_uaf(uml):
            uml.run("modprobe uh_kasan_uaf")

        def test_fine(uml):
            assert uml.run("true").ok
        """
    )
    result = run(pytester, "--uml-kasan", "-rA")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "KASAN report" in output and "use-after-free" in output and "uh_kasan_uaf" in output


def test_the_kasan_kernel_loads_a_module_where_an_unloaded_one_was(
    pytester: pytest.Pytester,
) -> None:
    """6.12 reported a global-out-of-bounds in load_module on the second load
    before uml-config/patches/6.12/0006 (found by fuzzing uh_thermo)."""
    pytester.makepyfile(
        """
        def test_reload(uml):
            for _ in range(3):
                uml.check("modprobe hello && rmmod hello")
        """
    )
    run(pytester, "--uml-kasan").assert_outcomes(passed=1)


def test_a_crash_while_the_guest_powers_off_fails_the_test(pytester: pytest.Pytester) -> None:
    """The body passes; the driver's reboot notifier WARNs during teardown's poweroff."""
    pytester.makepyfile(
        """
        def test_loads_a_driver_that_warns_at_poweroff(uml):
            uml.check("modprobe uh_poweroff_warn")
        """
    )
    result = run(pytester, "-rA", f"--basetemp={pytester.path / 'tmp'}")
    result.assert_outcomes(passed=1, errors=1)
    output = result.stdout.str()
    assert "after the test's body (found at teardown)" in output
    assert "uh_poweroff_warn: deliberate warning at poweroff" in output
    assert list((pytester.path / "tmp").rglob("uml/uh-*/dmesg.txt"))


def test_an_exception_in_an_iomem_models_thread_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guest's driver writes THRESHOLD; the model's thread sees it and divides by zero."""
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_ROOT))  # tests.unit.faulty_model
    pytester.makepyfile(
        """
        import time

        import pytest

        from simulators.devices import Device
        from simulators.thermo.regs import THERMO
        from tests.unit.faulty_model import FaultyThermo
        from umlharness.pytest_plugin import _model_fixture

        DEVICE = Device(name="faulty", title="THERMO", layout=THERMO, model=FaultyThermo,
                        region="thermo")
        faulty = _model_fixture(DEVICE)

        @pytest.mark.uml(iomem=["thermo"])
        def test_driver_writes_the_threshold(uml, faulty):
            uml.check("echo 50000 > /sys/devices/platform/uh_thermo/threshold")
            time.sleep(0.3)  # the model's thread polls every 10 ms

        @pytest.mark.uml(iomem=["thermo"])
        def test_fine(uml, faulty):
            assert uml.check("cat /sys/devices/platform/uh_thermo/threshold") == "80000\\n"
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    output = result.stdout.str()
    assert (
        "ModelError: the THERMO model raised ZeroDivisionError in its thread "
        "'threshold-watch': integer division or modulo by zero"
    ) in output
    assert output.count("return new // 0") == 1  # the model's traceback, once
    assert "ERROR at teardown of test_driver_writes_the_threshold" in output


def test_strict_mode_fails_a_driver_access_outside_the_map(pytester: pytest.Pytester) -> None:
    """uh_pcitest's `window` copies to and from BAR0's window, which pcitest's map leaves
    as Padding: outside the map, so strict mode fails the test, and only strict mode."""
    pytester.makepyfile(
        """
        import pytest

        WINDOW = "cat /sys/bus/pci/devices/0000:00:00.0/window"

        @pytest.mark.uml(pci=["pcitest"], strict=True)
        def test_strict_by_marker(uml):
            uml.check(WINDOW)
            uml.check("true")

        @pytest.mark.uml(pci=["pcitest"])
        def test_not_strict(uml):
            uml.check(WINDOW)
            uml.check("true")

        @pytest.mark.uml(pci=["pcitest"])
        def test_registers_only(uml):
            uml.check("cat /sys/bus/pci/devices/0000:00:00.0/widths")
            uml.check("true")
        """
    )
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=2, failed=1)
    output = result.stdout.str()
    assert (
        "FAILED test_strict_mode_fails_a_driver_access_outside_the_map.py::test_strict_by_marker"
        in output
    )
    assert "strict mode: the driver" in output and "BAR0 0x100" in output
    # The option turns it on for every test.
    result = run(pytester, "--uml-strict", "-k", "not_strict or registers_only")
    result.assert_outcomes(passed=1, failed=1)


def test_uml_cov_reports_which_lines_of_the_driver_ran(pytester: pytest.Pytester) -> None:
    """The cov kernel variant, uh_thermo built with gcov: a guest that loads and reads
    it gives uh_thermo.c lines run, in the summary, the lcov file and the HTML."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.uml(iomem=["thermo"])
        def test_reads_the_temperature(uml):
            uml.run("cat /sys/devices/platform/uh_thermo/temp")
        """
    )
    result = run(pytester, "--uml-cov", "--uml-kernel", "6.12", "-rA")
    result.assert_outcomes(passed=1)
    output = result.stdout.str()
    assert "umlharness: driver coverage" in output
    line = next(line for line in output.splitlines() if "uh_thermo.c" in line)
    covered = int(line.split()[2])  # File, Lines, Exec, Cover, Missing
    assert covered > 0, line
    info = (pytester.path / "uml-coverage" / "coverage.info").read_text()
    assert "uh_thermo.c" in info and "uh_core" not in info
    assert (pytester.path / "uml-coverage" / "html" / "index.html").is_file()
