// SPDX-License-Identifier: GPL-2.0
/*
 * uh_core - what every driver of a simulated iomem device shares: finding
 * its region and wiring its interrupt socket (see uh_iomem.h).
 *
 * These call UML's own helpers (find_iomem(), the os_ socket calls), so
 * they live in one module that drivers import from, rather than inline in
 * each driver.
 */

#include <linux/module.h>
#include <irq_kern.h>
#include <irq_user.h>
#include <mem_user.h>
#include <os.h>

#include <uh_iomem.h>

int uh_iomem_map(struct uh_iomem_dev *dev, const char *name)
{
	unsigned long len = 0;
	unsigned long addr;

	addr = find_iomem((char *)name, &len);
	if (!addr)
		return -ENODEV;
	dev->name = name;
	dev->base = (void *)addr;
	dev->size = len;
	dev->fd = -1;
	dev->irq = -1;
	return 0;
}
EXPORT_SYMBOL_GPL(uh_iomem_map);

int uh_iomem_request_irq(struct uh_iomem_dev *dev, irq_handler_t handler,
			 void *data)
{
	int fd, irq, err;

	err = umid_file_name((char *)dev->name, dev->socket_path,
			     sizeof(dev->socket_path));
	if (err)
		return err;
	/* A socket left behind by an earlier load would make bind() fail. */
	os_unlink_file(dev->socket_path);
	fd = os_create_unix_socket(dev->socket_path, sizeof(dev->socket_path), 1);
	if (fd < 0)
		return fd;
	err = os_set_fd_block(fd, 0);
	if (err)
		goto out_close;
	irq = um_request_irq(UM_IRQ_ALLOC, fd, IRQ_READ, handler, 0, dev->name,
			     data);
	if (irq < 0) {
		err = irq;
		goto out_close;
	}
	dev->fd = fd;
	dev->irq = irq;
	return 0;

out_close:
	os_close_file(fd);
	os_unlink_file(dev->socket_path);
	return err;
}
EXPORT_SYMBOL_GPL(uh_iomem_request_irq);

unsigned int uh_iomem_drain(struct uh_iomem_dev *dev)
{
	char buf[64];
	unsigned int count = 0;

	while (os_read_file(dev->fd, buf, sizeof(buf)) >= 0)
		count++;
	return count;
}
EXPORT_SYMBOL_GPL(uh_iomem_drain);

void uh_iomem_free_irq(struct uh_iomem_dev *dev, void *data)
{
	if (dev->irq < 0)
		return;
	um_free_irq(dev->irq, data);
	os_close_file(dev->fd);
	os_unlink_file(dev->socket_path);
	dev->irq = -1;
	dev->fd = -1;
}
EXPORT_SYMBOL_GPL(uh_iomem_free_irq);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("umlharness: iomem regions and interrupt sockets for simulated devices");
