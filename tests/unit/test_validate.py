"""Bad input is one clear error, the same through the CLI, the API and the plugin."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from simulators.pci.__main__ import main as backend_main
from simulators.pci.models import make_model, parse_spec
from simulators.pci.trace import show
from umlharness import validate
from umlharness.errors import HarnessError
from umlharness.instance import BootRequest, kernel_word
from umlharness.iomem import IomemSpec
from umlharness.kernel import Kernel
from umlharness.pci import PciSpec
from umlharness.rootfs import Rootfs
from umlharness_shared.handshake import FAILED
from umlharness_shared.sockets import check_socket_path


def request(**changes: object) -> BootRequest:
    return BootRequest(Kernel(Path("/k")), Rootfs(Path("/r")), **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "abc", "", float("nan")])
def test_seconds_must_be_finite_and_positive(value: object) -> None:
    with pytest.raises(HarnessError, match="--timeout"):
        validate.seconds(value, "--timeout")


def test_seconds_accepts_numbers_and_text() -> None:
    assert validate.seconds("2.5", "t") == 2.5
    assert validate.seconds(3, "t") == 3.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mem": "100000G"}, r"more than this host's \d+M of RAM"),
        ({"mem": "16M"}, "at least 32M"),
        ({"mem": "lots"}, "--mem lots: bad size"),
        ({"umid": ""}, "bad umid ''"),
        ({"umid": "a b"}, "bad umid 'a b'"),
        ({"boot_timeout": float("nan")}, "boot timeout nan"),
        ({"command_timeout": float("inf")}, "command timeout inf"),
        ({"iomem": [IomemSpec("mock"), IomemSpec("mock")]}, "given twice"),
        ({"pci": [PciSpec("pcitest")] * 9}, "takes up to 8"),
        ({"share": Path("/nonexistent/dir")}, "not a directory"),
    ],
)
def test_boot_requests_are_checked_wherever_they_come_from(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(HarnessError, match=message):
        request(**changes)


def test_a_share_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    assert request(share=Path("d")).share == tmp_path / "d"


@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox")
@pytest.mark.parametrize("path", ["/plain/path", "/with space/and, comma", "/tab\there/ü/'q\"\\"])
def test_kernel_word_is_one_word_that_init_decodes(path: str) -> None:
    word = kernel_word(path)
    assert word.split() == [word]
    decoded = subprocess.run(
        ["busybox", "printf", "%b", word], check=True, capture_output=True
    ).stdout
    assert decoded == path.encode()


def test_socket_paths_must_fit() -> None:
    check_socket_path(Path("/" + "a" * 106), "sock")
    with pytest.raises(HarnessError, match="108 bytes, more than a unix socket path may be"):
        check_socket_path(Path("/" + "a" * 107), "sock")


def test_pci_options_given_twice_are_refused() -> None:
    with pytest.raises(HarnessError, match="option mac is given twice"):
        PciSpec.parse("rtl8111,mac=00:e0:4c:00:00:01,mac=00:e0:4c:00:00:02")
    assert parse_spec("rtl8111,mac=1") == ("rtl8111", {"mac": "1"})


def test_a_model_constructor_that_raises_fails_the_backends_handshake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The harness only checks the spec; the model is built in its backend.
    assert PciSpec.parse("tests.unit.broken_model:Broken,when=now").model.endswith(":Broken")
    status = backend_main(
        ["--model", "tests.unit.broken_model:Broken", "--socket", str(tmp_path / "s")]
    )
    out, err = capsys.readouterr()
    assert status == 2
    (line,) = out.splitlines()
    assert line == f"{FAILED} PCI model tests.unit.broken_model:Broken failed to start: " + (
        "RuntimeError: broken on purpose"
    )
    assert 'raise RuntimeError("broken on purpose")' in err


def test_binary_and_unknown_traces_are_refused(tmp_path: Path) -> None:
    binary = tmp_path / "binary"
    binary.write_bytes(b"\x00\xff\xfe\x80 not text")
    with pytest.raises(HarnessError, match="is not a umlharness PCI trace"):
        list(show(binary, make_model))
    unknown_op = tmp_path / "op"
    unknown_op.write_text(
        '{"trace": 1, "model": "pcitest", "options": {}}\n{"t": 1, "op": "ZAP"}\n'
    )
    with pytest.raises(HarnessError, match=":2: not a trace event"):
        list(show(unknown_op, make_model))


def test_a_trace_never_imports_the_model_it_names_without_consent(tmp_path: Path) -> None:
    trace = tmp_path / "t"
    trace.write_text('{"trace": 1, "model": "tests.unit.broken_model:Imported", "options": {}}\n')
    imported: list[str] = []

    def make(name: str, options: dict[str, str]) -> object:
        imported.append(name)
        raise AssertionError("imported")

    with pytest.raises(HarnessError, match="pass --import-model if you trust it"):
        list(show(trace, make))  # type: ignore[arg-type]
    assert imported == []
