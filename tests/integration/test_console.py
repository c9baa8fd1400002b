"""The console under load: megabytes of output through run(), exactly, and expect() after it."""

from __future__ import annotations

import hashlib

import pytest

from umlharness import Instance

pytestmark = pytest.mark.slow

#: seq 1..LINES prints about 5.3 MB.
LINES = 760_000


def test_megabytes_of_output_come_back_exactly(vm: Instance) -> None:
    expected = "".join(f"{n}\n" for n in range(1, LINES + 1))
    # Through cat: seq alone would write to the tty a line at a time, one UML system call each.
    command = f"env seq {LINES} | cat"
    guest_md5 = vm.check(f"{command} | md5sum").split()[0]
    assert guest_md5 == hashlib.md5(expected.encode()).hexdigest()
    # Read in time linear in the output: searching all of it after every read
    # (as pexpect's expect() does) takes minutes at this size.
    output = vm.check(command, timeout=30)
    assert len(output) == len(expected) > 5_000_000
    assert hashlib.md5(output.encode()).hexdigest() == guest_md5
    assert vm.run("echo after").output == "after\n"


def test_output_is_what_the_command_wrote(vm: Instance) -> None:
    assert vm.run(r"printf 'a\r\nb\rc\n\n'").output == "a\r\nb\rc\n\n"
    assert vm.run(r"printf 'no newline\r'").output == "no newline\r"
    assert vm.run("head -c 100000 /dev/zero | tr '\\0' x").output == "x" * 100_000


def test_expect_sees_what_followed_a_command(vm: Instance) -> None:
    vm.check("(sleep 0.3; echo late-line) &")
    assert vm.expect(r"late-\w+") == "late-line"
    assert vm.run("echo next").output == "next\n"
