"""The devicetree a boot with I2C or GPIO devices passes to UML (`dtb=`).

Each virtio device is a node `compatible = "virtio,uml"` with its vhost-user
`socket-path` and `virtio-device-id`; virtio_uml probes it and hands the
child node (`virtio,device22` for I2C, `virtio,device29` for GPIO) to the
virtio device, so the I2C clients under it are created by the kernel's I2C
core with the in-tree drivers' `compatible` strings, and their interrupts
name the GPIO controller. Written with the `fdt` library; the `.dts` beside
the blob is for people.
"""

from __future__ import annotations

from pathlib import Path

import fdt

from simulators.virtio.board import GPIO_CONTROLLER, I2C_ADAPTER, I2cSpec, model_class
from simulators.virtio.gpio import DEVICE_ID as GPIO_DEVICE_ID
from simulators.virtio.i2c import DEVICE_ID as I2C_DEVICE_ID

#: The GPIO controller's phandle, which interrupt-parent names.
GPIO_PHANDLE = 1
#: dt-bindings/interrupt-controller/irq.h
IRQ_TYPES = {"rising": 1, "falling": 2, "both": 3, "high": 4, "low": 8}


def _virtio_node(name: str, socket: Path, device_id: int) -> fdt.Node:
    node = fdt.Node(name)
    node.append(fdt.PropStrings("compatible", "virtio,uml"))
    node.append(fdt.PropStrings("socket-path", str(socket)))
    node.append(fdt.PropWords("virtio-device-id", device_id))
    return node


def board_tree(i2c: list[I2cSpec], gpio_lines: int, directory: Path) -> fdt.FDT:
    """The tree of a board whose sockets are in `directory` (simulators/virtio/board.py)."""
    tree = fdt.FDT()
    tree.header.version = 17
    root = tree.root
    root.append(fdt.PropWords("#address-cells", 1))
    root.append(fdt.PropWords("#size-cells", 1))
    if gpio_lines:
        node = _virtio_node(GPIO_CONTROLLER, directory / f"{GPIO_CONTROLLER}.sock", GPIO_DEVICE_ID)
        controller = fdt.Node("gpio")
        controller.append(fdt.PropStrings("compatible", f"virtio,device{GPIO_DEVICE_ID:x}"))
        controller.append(fdt.Property("gpio-controller"))
        controller.append(fdt.PropWords("#gpio-cells", 2))
        controller.append(fdt.Property("interrupt-controller"))
        controller.append(fdt.PropWords("#interrupt-cells", 2))
        controller.append(fdt.PropWords("ngpios", gpio_lines))
        controller.append(fdt.PropWords("phandle", GPIO_PHANDLE))
        node.append(controller)
        root.append(node)
    if i2c:
        node = _virtio_node(I2C_ADAPTER, directory / f"{I2C_ADAPTER}.sock", I2C_DEVICE_ID)
        bus = fdt.Node("i2c")
        bus.append(fdt.PropStrings("compatible", f"virtio,device{I2C_DEVICE_ID:x}"))
        bus.append(fdt.PropWords("#address-cells", 1))
        bus.append(fdt.PropWords("#size-cells", 0))
        for spec in sorted(i2c, key=lambda s: s.address):
            bus.append(_client(spec))
        node.append(bus)
        root.append(node)
    return tree


def _client(spec: I2cSpec) -> fdt.Node:
    cls = model_class(spec)
    client = fdt.Node(f"{cls.compatible.partition(',')[2] or cls.compatible}@{spec.address:x}")
    client.append(fdt.PropStrings("compatible", cls.compatible))
    client.append(fdt.PropWords("reg", spec.address))
    # Only a driver that takes an interrupt is told of it; the pin is wired
    # to its line either way (a test may watch the line from the guest).
    if spec.irq_line is not None and cls.irq_trigger is not None:
        client.append(fdt.PropWords("interrupt-parent", GPIO_PHANDLE))
        client.append(fdt.PropWords("interrupts", spec.irq_line, IRQ_TYPES[cls.irq_trigger]))
    return client


def write_board_tree(i2c: list[I2cSpec], gpio_lines: int, directory: Path) -> Path:
    """board.dtb (and board.dts) in `directory`; the blob's path."""
    tree = board_tree(i2c, gpio_lines, directory)
    (directory / "board.dts").write_text(tree.to_dts())
    blob = directory / "board.dtb"
    blob.write_bytes(tree.to_dtb(version=17))
    return blob
