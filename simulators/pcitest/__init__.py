"""The generic PCI test device that uh_pcitest drives: MMIO of every width, MSI/MSI-X, DMA."""
