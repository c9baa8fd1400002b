// SPDX-License-Identifier: GPL-2.0
/*
 * hello - the smallest module the harness builds, loads and unloads.
 *
 * On load it says hello and where its umid directory is, which proves
 * that umid_file_name() works from a module long after boot.
 */

#include <linux/module.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/limits.h>
#include <os.h>

static char greeting_path[PATH_MAX];

static int __init hello_init(void)
{
	int err;

	err = umid_file_name("hello", greeting_path, sizeof(greeting_path));
	if (err) {
		pr_err("hello: no umid directory (%d)\n", err);
		return err;
	}
	pr_info("hello: loaded, umid file %s\n", greeting_path);
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("hello: unloaded\n");
}

module_init(hello_init);
module_exit(hello_exit);

MODULE_DESCRIPTION("umlharness smoke-test module");
MODULE_LICENSE("GPL");
