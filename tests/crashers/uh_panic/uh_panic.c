// SPDX-License-Identifier: GPL-2.0
/* uh_panic - panics when loaded. */
#include <linux/kernel.h>
#include <linux/module.h>

static int __init uh_panic_init(void)
{
	panic("uh_panic: deliberate panic");
	return 0;
}
module_init(uh_panic_init);

MODULE_DESCRIPTION("umlharness test module: panic on load");
MODULE_LICENSE("GPL");
