"""Virtio devices over vhost-user for UML's virtio_uml: the server every device
shares (`server.py`), and the I2C adapter and GPIO controller that unmodified
in-tree drivers bind to (see docs/i2c-gpio.md)."""
