// SPDX-License-Identifier: GPL-2.0
/* uh_warn - WARNs when loaded, then loads fine. */
#include <linux/bug.h>
#include <linux/module.h>

static int __init uh_warn_init(void)
{
	WARN(1, "uh_warn: deliberate warning\n");
	return 0;
}
module_init(uh_warn_init);

static void __exit uh_warn_exit(void)
{
}
module_exit(uh_warn_exit);

MODULE_DESCRIPTION("umlharness test module: WARN on load");
MODULE_LICENSE("GPL");
