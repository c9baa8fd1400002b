/* SPDX-License-Identifier: GPL-2.0 */
/* What differs between the kernels this driver is tested on (6.1, 6.12). */
#ifndef TMP42_COMPAT_H
#define TMP42_COMPAT_H

#include <linux/version.h>

/* i2c_driver.probe lost its i2c_device_id argument in 6.3 (probe_new until then). */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define TMP42_PROBE probe_new
#else
#define TMP42_PROBE probe
#endif

#endif /* TMP42_COMPAT_H */
