// SPDX-License-Identifier: GPL-2.0
/* uh_oops - dereferences NULL when loaded. */
#include <linux/module.h>

static int *uh_oops_target;

static int __init uh_oops_init(void)
{
	pr_info("uh_oops: about to dereference NULL\n");
	return *READ_ONCE(uh_oops_target);
}
module_init(uh_oops_init);

MODULE_DESCRIPTION("umlharness test module: oops on load");
MODULE_LICENSE("GPL");
