// SPDX-License-Identifier: GPL-2.0
/* What a driver gets when it asks virt-pci for INTx, and request_irq on it. */
#include <linux/interrupt.h>
#include <linux/irq.h>
#include <linux/module.h>
#include <linux/pci.h>

/* INTx alone: PCI_IRQ_LEGACY in 6.1, PCI_IRQ_INTX in 6.12. */
#define UHX_IRQ_INTX (PCI_IRQ_ALL_TYPES & ~(PCI_IRQ_MSI | PCI_IRQ_MSIX))

static irqreturn_t uhx_intx_irq(int irq, void *data)
{
	struct pci_dev *pdev = data;

	dev_info(&pdev->dev, "INTx handled\n");
	return IRQ_HANDLED;
}

static int uhx_intx_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct irq_data *data;
	int nvec, ret;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	nvec = pci_alloc_irq_vectors(pdev, 1, 1, UHX_IRQ_INTX);
	if (nvec < 0)
		return nvec;
	data = irq_get_irq_data(pdev->irq);
	ret = request_irq(pci_irq_vector(pdev, 0), uhx_intx_irq, 0, "uhx_intx",
			  pdev);
	dev_info(&pdev->dev, "pin %u irq %u vector %d chip %s request_irq %d\n",
		 pdev->pin, pdev->irq, pci_irq_vector(pdev, 0),
		 data && data->chip ? data->chip->name : "-", ret);
	if (ret)
		pci_free_irq_vectors(pdev);
	return ret;
}

static void uhx_intx_remove(struct pci_dev *pdev)
{
	free_irq(pci_irq_vector(pdev, 0), pdev);
	pci_free_irq_vectors(pdev);
}

static const struct pci_device_id uhx_intx_ids[] = {
	{ PCI_DEVICE(0x5548, 0x7402) },
	{ }
};
MODULE_DEVICE_TABLE(pci, uhx_intx_ids);

static struct pci_driver uhx_intx_driver = {
	.name = "uhx_intx",
	.id_table = uhx_intx_ids,
	.probe = uhx_intx_probe,
	.remove = uhx_intx_remove,
};
module_pci_driver(uhx_intx_driver);
MODULE_DESCRIPTION("a test driver that asks for INTx");
MODULE_LICENSE("GPL");
