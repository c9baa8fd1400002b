/* SPDX-License-Identifier: GPL-2.0 */
/*
 * uh_compat.h - what differs, for this project's drivers, between the
 * kernels the harness supports (6.1 and 6.12). Each difference is gated on
 * the release that brought it, so a driver reads the same on every kernel.
 */
#ifndef UH_COMPAT_H
#define UH_COMPAT_H

#include <linux/device/class.h>
#include <linux/fs.h>
#include <linux/version.h>

/* 6.4: class_create() lost its owner argument. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
#define uh_class_create(name) class_create(THIS_MODULE, name)
#else
#define uh_class_create(name) class_create(name)
#endif

/*
 * 6.12: no_llseek is gone; a file without an llseek method cannot seek
 * (lseek() fails with ESPIPE), as no_llseek made it.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 12, 0)
#define UH_NO_LLSEEK no_llseek
#else
#define UH_NO_LLSEEK NULL
#endif

#endif /* UH_COMPAT_H */
