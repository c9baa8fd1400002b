// SPDX-License-Identifier: GPL-2.0
/* uh_poweroff_warn - warns from a reboot notifier, so while the guest powers off. */
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/reboot.h>

static int uh_poweroff_warn_notify(struct notifier_block *nb, unsigned long action,
				   void *data)
{
	WARN(1, "uh_poweroff_warn: deliberate warning at poweroff\n");
	return NOTIFY_DONE;
}

static struct notifier_block uh_poweroff_warn_nb = {
	.notifier_call = uh_poweroff_warn_notify,
};

static int __init uh_poweroff_warn_init(void)
{
	return register_reboot_notifier(&uh_poweroff_warn_nb);
}
module_init(uh_poweroff_warn_init);

static void __exit uh_poweroff_warn_exit(void)
{
	unregister_reboot_notifier(&uh_poweroff_warn_nb);
}
module_exit(uh_poweroff_warn_exit);

MODULE_DESCRIPTION("umlharness test module: a WARN while the guest powers off");
MODULE_LICENSE("GPL");
