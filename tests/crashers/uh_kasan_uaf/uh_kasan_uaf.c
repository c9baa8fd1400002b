// SPDX-License-Identifier: GPL-2.0
/* uh_kasan_uaf - reads memory after freeing it, for KASAN to catch. */
#include <linux/module.h>
#include <linux/slab.h>

static int __init uh_kasan_uaf_init(void)
{
	int *value = kmalloc(sizeof(*value), GFP_KERNEL);
	int stale;

	if (!value)
		return -ENOMEM;
	*value = 42;
	kfree(value);
	stale = READ_ONCE(*value);
	pr_info("uh_kasan_uaf: read %d after free\n", stale);
	return -EINVAL;
}
module_init(uh_kasan_uaf_init);

MODULE_DESCRIPTION("umlharness test module: use after free on load");
MODULE_LICENSE("GPL");
