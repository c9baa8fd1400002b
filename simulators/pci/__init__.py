"""PCI devices for unmodified drivers: Python models served to UML's virt-pci over vhost-user."""
