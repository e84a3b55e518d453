// SPDX-License-Identifier: GPL-2.0
/*
 * Transport: QEMU's ivshmem-doorbell (PCI 1af4:1110).  BAR0 holds the
 * registers (IVPosition, Doorbell), BAR2 the shared memory; each doorbell
 * vector arrives as its own MSI-X interrupt.  See QEMU's
 * docs/specs/ivshmem-spec.rst.
 */
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/pci.h>

#include "orthros.h"

#define IVSHMEM_REG_INTRMASK	0x00
#define IVSHMEM_REG_IVPOSITION	0x08
#define IVSHMEM_REG_DOORBELL	0x0c

struct orthros_ivshmem {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct orthros_dev od;
	int irq[ORTHROS_NR_VECTORS];
};

static void ivshmem_ring(struct orthros_dev *od, u32 doorbell, u32 vector)
{
	struct orthros_ivshmem *iv = od->transport;

	/* One posted MMIO write: no locks, fine in panic context. */
	writel(((doorbell & 0xffff) << 16) | (vector & 0xffff),
	       iv->regs + IVSHMEM_REG_DOORBELL);
}

static const struct orthros_transport_ops ivshmem_ops = {
	.name = "ivshmem-doorbell",
	.ring = ivshmem_ring,
};

static irqreturn_t ivshmem_irq(int irq, void *data)
{
	struct orthros_ivshmem *iv = data;
	u32 v;

	for (v = 0; v < ORTHROS_NR_VECTORS; v++)
		if (iv->irq[v] == irq)
			orthros_core_doorbell(&iv->od, v);
	return IRQ_HANDLED;
}

static int ivshmem_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct orthros_ivshmem *iv;
	resource_size_t len;
	u32 pos;
	int ret, v;

	/*
	 * ivshmem-plain has the same id but no MSI-X BAR: it is the
	 * checkpoint store, mapped from user space, not a doorbell.
	 */
	if (pci_resource_len(pdev, 1) == 0)
		return -ENODEV;

	iv = devm_kzalloc(&pdev->dev, sizeof(*iv), GFP_KERNEL);
	if (!iv)
		return -ENOMEM;
	iv->pdev = pdev;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	/*
	 * An MSI is a memory write by the device: without bus mastering the
	 * platform drops it, and every doorbell would be lost silently.
	 */
	pci_set_master(pdev);
	ret = pcim_iomap_regions(pdev, BIT(0), "orthros");
	if (ret)
		return ret;
	iv->regs = pcim_iomap_table(pdev)[0];

	len = pci_resource_len(pdev, 2);
	if (len < ORTHROS_SHM_MIN_SIZE) {
		dev_err(&pdev->dev, "shared memory BAR2 is %pa bytes, need %zu\n",
			&len, ORTHROS_SHM_MIN_SIZE);
		return -ENODEV;
	}
	iv->od.shm_phys = pci_resource_start(pdev, 2);
	iv->od.shm = devm_memremap(&pdev->dev, iv->od.shm_phys, len,
				   MEMREMAP_WB);
	if (IS_ERR(iv->od.shm))
		return PTR_ERR(iv->od.shm);
	iv->od.shm_size = len;

	pos = readl(iv->regs + IVSHMEM_REG_IVPOSITION);
	if (pos > 0xffff) {
		dev_err(&pdev->dev, "IVPosition %u is not a 16-bit peer id\n", pos);
		return -ERANGE;
	}
	iv->od.doorbell = pos;
	iv->od.self = pos % ORTHROS_MAX_PEERS;

	ret = pci_alloc_irq_vectors(pdev, ORTHROS_NR_VECTORS,
				    ORTHROS_NR_VECTORS, PCI_IRQ_MSIX);
	if (ret < 0) {
		dev_err(&pdev->dev, "need %u MSI-X vectors (ivshmem-doorbell,vectors=%u): %d\n",
			ORTHROS_NR_VECTORS, ORTHROS_NR_VECTORS, ret);
		return ret;
	}
	for (v = 0; v < ORTHROS_NR_VECTORS; v++) {
		iv->irq[v] = pci_irq_vector(pdev, v);
		ret = devm_request_irq(&pdev->dev, iv->irq[v], ivshmem_irq, 0,
				       v == ORTHROS_VEC_HEARTBEAT ?
				       "orthros-heartbeat" : "orthros-notice", iv);
		if (ret)
			goto err_vectors;
	}

	iv->od.parent = &pdev->dev;
	iv->od.ops = &ivshmem_ops;
	iv->od.transport = iv;
	iv->od.nr_vectors = ORTHROS_NR_VECTORS;
	ret = orthros_core_register(&iv->od);
	if (ret)
		goto err_vectors;
	pci_set_drvdata(pdev, iv);
	dev_info(&pdev->dev, "slot %u (IVPosition %u), %pa bytes shared, transport %s\n",
		 iv->od.self, pos, &len, ivshmem_ops.name);
	return 0;

err_vectors:
	for (v = 0; v < ORTHROS_NR_VECTORS; v++)
		if (iv->irq[v] > 0)
			devm_free_irq(&pdev->dev, iv->irq[v], iv);
	pci_free_irq_vectors(pdev);
	return ret;
}

static void ivshmem_remove(struct pci_dev *pdev)
{
	struct orthros_ivshmem *iv = pci_get_drvdata(pdev);
	int v;

	orthros_core_unregister(&iv->od);
	for (v = 0; v < ORTHROS_NR_VECTORS; v++)
		devm_free_irq(&pdev->dev, iv->irq[v], iv);
	pci_free_irq_vectors(pdev);
}

static const struct pci_device_id ivshmem_ids[] = {
	{ PCI_DEVICE(0x1af4, 0x1110) },
	{ }
};
MODULE_DEVICE_TABLE(pci, ivshmem_ids);

static struct pci_driver ivshmem_driver = {
	.name = "orthros-ivshmem",
	.id_table = ivshmem_ids,
	.probe = ivshmem_probe,
	.remove = ivshmem_remove,
};

int orthros_ivshmem_init(void)
{
	return pci_register_driver(&ivshmem_driver);
}

void orthros_ivshmem_exit(void)
{
	pci_unregister_driver(&ivshmem_driver);
}
