"""`umlharness boot --i2c/--gpio` and `sim i2c`/`sim gpio` as a user types them."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.test_exec import (
    SIM,
    UMLHARNESS,
    Booter,
    command,
    console_boot,
    one_error_line,
    run,
)

pytestmark = pytest.mark.slow
__all__ = ["console_boot", "run"]  # fixtures, shared with test_exec.py


def test_boot_with_an_lm75_prints_its_temperature() -> None:
    result = command(
        UMLHARNESS, "boot", "--i2c", "lm75@0x48", "--run", "cat /sys/class/hwmon/hwmon*/temp1_input"
    )
    assert (result.returncode, result.stdout) == (0, "25000\n"), result.stderr


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (
            ["--i2c", "lm75@0x48", "--i2c", "opt3001@0x48"],
            "--i2c opt3001@0x48 and --i2c lm75@0x48: two devices at 0x48",
        ),
        (
            ["--i2c", "lm75@0x48,irq=gpio0:3", "--i2c", "opt3001@0x44,irq=gpio0:3"],
            "--i2c opt3001@0x44,irq=gpio0:3 and --i2c lm75@0x48,irq=gpio0:3: both wired to gpio0:3",
        ),
        (["--i2c", "lm75@0x48,irq=gpio0:8"], "--i2c lm75@0x48,irq=gpio0:8: gpio0 has lines 0 to 7"),
        (
            ["--i2c", "lm75@0x48,speed=fast"],
            "--i2c lm75@0x48,speed=fast: lm75: unknown option speed (options: temperature, irq)",
        ),
        (["--i2c", "ds9999@0x10"], "--i2c ds9999@0x10: no I2C model 'ds9999'"),
    ],
)
def test_bad_i2c_options_are_one_line_before_any_build(options: list[str], error: str) -> None:
    assert one_error_line(command(UMLHARNESS, "boot", *options, "--run", "true")).startswith(error)


def test_sim_drives_the_i2c_model_and_the_gpio_lines_of_a_running_guest(
    console_boot: Booter,
) -> None:
    console_boot("uh-board", "--i2c", "lm75@0x48", "--gpio", "4")
    assert command(SIM, "i2c", "list").stdout == "lm75@0x48\n"
    listed = command(UMLHARNESS, "ps").stdout
    assert "    i2c lm75@0x48\n    gpio gpio0: 4 lines\n" in listed, listed
    assert command(SIM, "i2c", "call", "0x48", "set_temperature", "42.5").returncode == 0
    temp = command(UMLHARNESS, "exec", "cat /sys/class/hwmon/hwmon*/temp1_input")
    assert temp.stdout == "42500\n"
    assert "temp" in command(SIM, "i2c", "dump", "0x48").stdout
    assert command(SIM, "gpio", "set", "1", "1").returncode == 0
    assert command(UMLHARNESS, "exec", "gpioline get /dev/gpiochip0 1").stdout == "1\n"
    assert command(SIM, "gpio", "get", "1").stdout.startswith("1: ")
    watch = subprocess.Popen(
        [SIM, "gpio", "watch", "--count", "1", "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CI": "1"},
    )
    assert watch.stderr is not None
    assert watch.stderr.readline().startswith("watching")  # changes from now on are seen
    assert command(UMLHARNESS, "exec", "gpioline set /dev/gpiochip0 2 1").returncode == 0
    assert watch.communicate(timeout=30)[0] == "2 1\n"
    assert one_error_line(command(SIM, "gpio", "set", "7", "1"), "sim") == (
        "no GPIO line 7: the controller has 4"
    )
    assert one_error_line(command(SIM, "i2c", "dump", "0x50"), "sim") == (
        "no I2C device at 0x50 (devices at: 0x48)"
    )
