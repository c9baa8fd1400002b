"""udpcheck (userspace/udpcheck): numbered, checksummed UDP frames, sent and
received in a plain guest over its loopback interface, and its frames against
the format built in Python with zlib.

The guest tests wait until the receiver has bound its port before the sender
starts: the sender's first frames would otherwise find no socket and be lost.
"""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import time
import zlib
from pathlib import Path

import pytest

from tests.host_builds import build_on_host
from umlharness import Instance

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "userspace" / "udpcheck" / "udpcheck.c"

SENT = re.compile(
    r"^sent (\d+) frames of (\d+) bytes in ([\d.]+) s: (\d+) frames/s, ([\d.]+) Mbit/s$", re.M
)
RECEIVED = re.compile(
    r"^received (?P<received>\d+) of (?P<count>\d+) frames: lost (?P<lost>\d+), "
    r"duplicated (?P<duplicated>\d+), corrupted (?P<corrupted>\d+), "
    r"reordered (?P<reordered>\d+), other streams (?P<other>\d+); "
    r"(?P<seconds>[\d.]+) s, (?P<fps>\d+) frames/s, (?P<mbits>[\d.]+) Mbit/s$",
    re.M,
)
COUNTS = ("received", "count", "lost", "duplicated", "corrupted", "reordered", "other")


def frame(stream: int, seq: int, count: int, size: int) -> bytes:
    """A payload as the format says, built independently of udpcheck.c."""
    filler = bytes((seq + i) & 0xFF for i in range(size - 20))
    return b"UHCK" + struct.pack(">IIII", stream, seq, count, zlib.crc32(filler)) + filler


def received(output: str) -> dict[str, int]:
    found = RECEIVED.findall(output)
    assert len(found) == 1, output
    return dict(zip(COUNTS, map(int, found[0][: len(COUNTS)]), strict=True))


def wait_bound(port: int) -> str:
    """Shell: wait (up to 5 s) until a UDP socket is bound to `port`."""
    return (
        f"for i in $(seq 500); do grep -q ':{port:04X} ' /proc/net/udp && break; sleep 0.01; done"
    )


def run_pair(uml: Instance, recv: str, *sends: str, port: int) -> tuple[str, int]:
    """`udpcheck recv PORT RECV` in the background, then each `udpcheck send
    127.0.0.1 PORT SEND` once it listens; the output, and the receiver's status."""
    senders = "; ".join(
        f"udpcheck send 127.0.0.1 {port} {send}; echo send-exit $?" for send in sends
    )
    result = uml.run(
        f"ip link set lo up && {{ udpcheck recv {port} {recv} & {wait_bound(port)}; "
        f"{senders}; wait $!; }}",
        timeout=120,
    )
    return result.output, result.exit_code


# -- in the guest ---------------------------------------------------------------------


@pytest.mark.slow
def test_loopback_run_is_complete(uml: Instance) -> None:
    output, status = run_pair(uml, "--count 2000", "--count 2000 --size 1000", port=5000)
    assert status == 0, output
    assert "send-exit 0" in output
    sent = SENT.findall(output)
    assert len(sent) == 1 and sent[0][:2] == ("2000", "1000"), output
    got = received(output)
    assert got == {**got, "received": 2000, "count": 2000, "lost": 0}, output
    assert (got["duplicated"], got["corrupted"], got["other"]) == (0, 0, 0), output
    print(output)  # the figures, with -s


@pytest.mark.slow
def test_frames_not_sent_are_lost(uml: Instance) -> None:
    output, status = run_pair(
        uml, "--count 3000 --timeout 1", "--count 2000 --size 1000", port=5001
    )
    assert status == 1, output
    got = received(output)
    assert (got["received"], got["count"], got["lost"]) == (2000, 3000, 1000), output
    assert (got["duplicated"], got["corrupted"]) == (0, 0), output


@pytest.mark.slow
def test_duplicates_and_other_streams_are_counted(uml: Instance) -> None:
    # The stream 8 frames are ignored; stream 7 is sent twice, paced.
    output, status = run_pair(
        uml,
        "--count 200 --stream 7 --timeout 1",
        "--count 50 --size 100 --stream 8",
        "--count 100 --size 300 --stream 7 --rate 2000",
        "--count 100 --size 300 --stream 7",
        port=5002,
    )
    assert status == 1, output
    got = received(output)
    assert got == {**got, "received": 100, "lost": 100, "duplicated": 100, "other": 50}, output
    assert (got["corrupted"], got["reordered"]) == (0, 0), output
    sent = SENT.findall(output)
    # 100 frames at 2000 a second: the last one goes out 49.5 ms after the first.
    assert float(sent[1][2]) >= 0.049, output


@pytest.mark.slow
def test_bad_usage_exits_2_with_one_line(uml: Instance) -> None:
    for command in (
        "udpcheck",
        "udpcheck send 127.0.0.1 5000 --count 10",
        "udpcheck send localhost 5000 --count 10 --size 100",
        "udpcheck send 127.0.0.1 5000 --count 10 --size 19",
        "udpcheck recv 5000",
        "udpcheck recv 5000 --count 10 --bogus",
    ):
        result = uml.run(command)
        assert result.exit_code == 2, result
        assert len(result.output.splitlines()) == 1, result
        assert result.output.startswith("udpcheck: "), result
    helped = uml.run("udpcheck --help")
    assert helped.exit_code == 0
    assert "udpcheck send HOST PORT" in helped.output
    assert "udpcheck recv PORT" in helped.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stream", "seq", "count", "size"),
    [(0, 0, 1, 20), (0xDEADBEEF, 255, 2000, 1000), (0xFFFFFFFF, 4294967294, 4294967295, 65507)],
)
def test_frames_in_the_guest_match_zlib(
    uml: Instance, stream: int, seq: int, count: int, size: int
) -> None:
    out = uml.check(
        f"udpcheck frame {seq} --count {count} --size {size} --stream {stream}", timeout=60
    )
    assert bytes.fromhex(out.strip()) == frame(stream, seq, count, size)


# -- on the host: the same source, built as the rootfs builds it ----------------------


@pytest.fixture(scope="module")
def udpcheck(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_on_host(SOURCE, tmp_path_factory)


def bound(port: int) -> None:
    """Wait until a UDP socket of this host is bound to `port` (Linux)."""
    deadline = time.monotonic() + 10
    while f":{port:04X} " not in Path("/proc/net/udp").read_text():
        assert time.monotonic() < deadline, f"nothing listens on UDP port {port}"
        time.sleep(0.01)


def test_python_frames_are_accepted_and_faults_counted(udpcheck: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    receiver = subprocess.Popen(
        [str(udpcheck), "recv", str(port), "--count", "10", "--timeout", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        good = [frame(77, seq, 10, 100) for seq in range(10)]
        bad_crc = bytearray(good[3])
        bad_crc[50] ^= 1
        bad_filler = bytearray(good[4])
        bad_filler[30] ^= 1
        bad_filler[16:20] = struct.pack(">I", zlib.crc32(bad_filler[20:]))
        faults = [
            bytes(bad_crc),
            bytes(bad_filler),
            b"XHCK" + good[5][4:],  # bad magic
            good[6][:19],  # too short
            frame(77, 12, 20, 100),  # seq beyond the receiver's count
            frame(77, 10, 10, 100),  # seq beyond its own count
            frame(99, 3, 10, 100),  # another stream
        ]
        order = [good[0], good[2], good[1], good[1], *faults, good[9], *good[3:9]]
        bound(port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for payload in order:
                sender.sendto(payload, ("127.0.0.1", port))
        output = receiver.communicate(timeout=20)[0]
    finally:
        receiver.kill()
        receiver.wait()
    assert receiver.returncode == 1, output
    assert received(output) == {
        "received": 10,
        "count": 10,
        "lost": 0,
        "duplicated": 1,
        "corrupted": 6,
        "reordered": 7,
        "other": 1,
    }, output
