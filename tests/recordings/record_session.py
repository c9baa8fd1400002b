"""Record what UML's virtio_uml/virt-pci frontend sends a backend, for the codec unit tests.

    python3 tests/recordings/record_session.py   # boots a guest with a PCI pcitest device

Writes `vhost_user_session.json` beside this file: the setup messages (as
the bytes that arrived, without their file descriptors, which are counted)
and the first virtio_pcidev commands (the device-readable bytes of each
chain, and the size of its device-writable part).
"""

from __future__ import annotations

import json
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from simulators.pci.backend import Backend
from simulators.pci.models import make_model
from simulators.pci.vhost_user import HEADER, Message
from simulators.pci.virtqueue import Chain
from umlharness import BootRequest, Instance, prepare

OUT = Path(__file__).with_name("vhost_user_session.json")
MAX_COMMANDS = 400


class RecordingBackend(Backend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.messages: list[dict[str, Any]] = []
        self.commands: list[dict[str, Any]] = []

    def handle(self, conn: socket.socket, message: Message) -> None:
        raw = HEADER.pack(message.request, message.flags, len(message.payload)) + message.payload
        self.messages.append({"bytes": raw.hex(), "fds": len(message.fds)})
        super().handle(conn, message)

    def _execute(self, chain: Chain) -> int:
        if len(self.commands) < MAX_COMMANDS:
            self.commands.append({"out": chain.out.hex(), "in_size": chain.in_size})
        return super()._execute(chain)


def main() -> int:
    artifacts = prepare()
    with tempfile.TemporaryDirectory(prefix="uh-rec-") as tmp:
        path = Path(tmp) / "dev.sock"
        backend = RecordingBackend(make_model("pcitest", {"irq": "msix"}), path)
        server = threading.Thread(target=lambda: (backend.accept(30), backend.serve()))
        server.start()
        request = BootRequest(
            kernel=artifacts.kernel,
            rootfs=artifacts.rootfs,
            autoload=False,
            extra_args=[f"virtio_uml.device={path}:1234"],
        )
        with Instance.boot(request) as guest:
            guest.run("cat /sys/bus/pci/devices/*/vendor")
        server.join(10)
        backend.close()
    setup = [m for m in backend.messages if m["bytes"][:8] != "23000000"]  # not VRING_KICK
    OUT.write_text(json.dumps({"setup": setup, "commands": backend.commands}, indent=1) + "\n")
    print(f"{OUT}: {len(setup)} setup messages, {len(backend.commands)} commands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
