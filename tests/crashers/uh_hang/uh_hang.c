// SPDX-License-Identifier: GPL-2.0
/* uh_hang - spins forever in its init, with interrupts off, like a stuck handler. */
#include <linux/irqflags.h>
#include <linux/module.h>
#include <asm/processor.h>

static int __init uh_hang_init(void)
{
	pr_info("uh_hang: spinning forever\n");
	local_irq_disable();
	for (;;)
		cpu_relax();
	return 0;
}
module_init(uh_hang_init);

MODULE_DESCRIPTION("umlharness test module: hang on load");
MODULE_LICENSE("GPL");
