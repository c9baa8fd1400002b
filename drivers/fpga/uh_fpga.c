// SPDX-License-Identifier: GPL-2.0
/*
 * uh_fpga - reports from, and commands to, FPGAs simulated on the host.
 *
 * Each FPGA is an iomem region fpga0..fpga3 holding its registers and two
 * rings (docs/icd.md, generated from simulators/fpga/icd.py and regs.py).
 * The device streams reports into the report ring and raises REPORT_READY;
 * readers of /dev/fpgaN get whole reports, as many as fit their buffer.
 * A write() is one command: it goes into the command ring, and a datagram
 * on the simulator's doorbell socket (<umid dir>/fpgaN-doorbell) tells the
 * device to look.
 *
 * Choices the ICD leaves to the driver:
 * - A report with a bad magic, version or length is counted as malformed
 *   and skipped: the driver resynchronises on the next position holding a
 *   well-formed report (one count per damaged stretch of the ring). Where a report's length lands on something that is
 *   not a report header, its CRC decides whether the report or what follows
 *   it is the damaged part; other CRC checks are left to user space.
 * - read() with a buffer too small for the next report fails with
 *   -EMSGSIZE, so that a report is never split.
 * - If no simulator listens on the doorbell, write() still succeeds: the
 *   command stays in the ring, where the device finds it when it starts,
 *   and doorbell_misses counts the miss. A full command ring blocks the
 *   writer (-EAGAIN with O_NONBLOCK) until the device consumes commands.
 * - CTRL.ENABLE (the device may stream) is set while the device is open for
 *   reading, so reports are not produced into a ring nobody drains.
 * - While the device is open, the driver rings the doorbell every
 *   FPGA_WATCH_PERIOD to learn whether the simulator is still there (see
 *   fpga_watch()). One that dies tells its readers: once the ring is empty,
 *   read() fails with -ECONNRESET (poll() reports EPOLLERR), and so does a
 *   write() waiting for room in a full command ring.
 */

#include <linux/bitops.h>
#include <linux/cdev.h>
#include <linux/crc32.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/log2.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <os.h>

#include <uh_iomem.h>
#include <uh_compat.h>
#include <uh/fpga_regs.h>	/* generated from simulators/fpga/regs.py */

#define FPGA_MAX_DEVICES	4
#define FPGA_WATCH_PERIOD	msecs_to_jiffies(250)

#define INTR_ALL	(FPGA_INTR_REPORT_READY | FPGA_INTR_OVERFLOW | \
			 FPGA_INTR_CMD_DONE)

#define RPT_HDR_SIZE		sizeof(struct fpga_report_hdr)
#define CMD_HDR_SIZE		sizeof(struct fpga_cmd_hdr)
#define FPGA_MAX_CMD		(CMD_HDR_SIZE + FPGA_MAX_CMD_PAYLOAD)

struct fpga_ring {
	void *base;
	u32 mask;		/* size - 1; the size is a power of two */
};

struct fpga_dev {
	struct uh_iomem_dev io;
	char name[16];		/* fpgaN: the region, the device node */
	int index;
	struct cdev cdev;
	struct device *device;
	struct fpga_ring rpt;
	struct fpga_ring cmd;

	struct mutex read_lock;	/* one consumer of the report ring at a time */
	u32 rpt_tail;		/* ours; the register mirrors it */
	wait_queue_head_t read_wq;

	struct mutex write_lock; /* one producer of the command ring; the doorbell */
	u32 cmd_head;
	wait_queue_head_t write_wq;
	int doorbell_fd;
	char doorbell_path[UH_SOCKET_PATH_MAX];

	struct mutex open_lock;
	unsigned int users;	/* opens: the watch runs while > 0 */
	unsigned int readers;	/* opens for reading: CTRL.ENABLE while > 0 */

	struct delayed_work watch;
	bool sim_present;	/* the last doorbell ring reached a simulator */
	atomic_t sim_losses;	/* simulators that died while present */

	u32 dropped_at_load;	/* REPORTS_DROPPED when the driver loaded */
	atomic64_t reports;
	atomic64_t bytes;
	atomic64_t malformed;
	atomic64_t commands;
	atomic64_t interrupts;
	atomic64_t doorbell_misses;
};

/* An open /dev/fpgaN. */
struct fpga_file {
	struct fpga_dev *fpga;
	int sim_losses;		/* the device's, when this file last heard */
};

static dev_t fpga_devt;
static struct class *fpga_class;
static struct fpga_dev *fpga_devs[FPGA_MAX_DEVICES];

/* --- rings ---------------------------------------------------------------- */

/* Copy @len bytes at free-running index @pos out of @ring, across its end. */
static void ring_read(const struct fpga_ring *ring, u32 pos, void *dst,
		      size_t len)
{
	u32 off = pos & ring->mask;
	size_t first = min_t(size_t, len, ring->mask + 1 - off);

	memcpy(dst, ring->base + off, first);
	memcpy(dst + first, ring->base, len - first);
}

static void ring_write(const struct fpga_ring *ring, u32 pos, const void *src,
		       size_t len)
{
	u32 off = pos & ring->mask;
	size_t first = min_t(size_t, len, ring->mask + 1 - off);

	memcpy(ring->base + off, src, first);
	memcpy(ring->base, src + first, len - first);
}

static int ring_to_user(const struct fpga_ring *ring, u32 pos,
			char __user *dst, size_t len)
{
	u32 off = pos & ring->mask;
	size_t first = min_t(size_t, len, ring->mask + 1 - off);

	if (copy_to_user(dst, ring->base + off, first))
		return -EFAULT;
	if (copy_to_user(dst + first, ring->base, len - first))
		return -EFAULT;
	return 0;
}

static u32 ring_crc(const struct fpga_ring *ring, u32 crc, u32 pos, size_t len)
{
	u32 off = pos & ring->mask;
	size_t first = min_t(size_t, len, ring->mask + 1 - off);

	crc = crc32_le(crc, ring->base + off, first);
	return crc32_le(crc, ring->base, len - first);
}

/* --- reports -------------------------------------------------------------- */

static bool rpt_crc_ok(struct fpga_dev *fpga, u32 pos,
		       struct fpga_report_hdr *hdr, u32 size)
{
	u32 want = le32_to_cpu(hdr->crc32);
	u32 crc;

	hdr->crc32 = 0;
	/* zlib's CRC-32 is crc32_le() with ~0 in and out. */
	crc = crc32_le(~0U, (const u8 *)hdr, RPT_HDR_SIZE);
	crc = ring_crc(&fpga->rpt, crc, pos + RPT_HDR_SIZE, size - RPT_HDR_SIZE);
	return (crc ^ ~0U) == want;
}

static bool rpt_magic_at(struct fpga_dev *fpga, u32 pos)
{
	__le32 magic;

	ring_read(&fpga->rpt, pos, &magic, sizeof(magic));
	return le32_to_cpu(magic) == FPGA_MAGIC;
}

/*
 * Whether a well-formed report starts at @pos, @avail bytes before the
 * head; its size goes to @size. Its magic and version must be right and it
 * must end at or before the head, since the device publishes whole reports
 * only. If it ends before the head, a report header must follow it; if none
 * does, either its length or what follows is damaged, and its CRC decides.
 */
static bool rpt_ok(struct fpga_dev *fpga, u32 pos, u32 avail, u32 *size)
{
	struct fpga_report_hdr hdr;
	u32 len;

	if (avail < RPT_HDR_SIZE)
		return false;
	ring_read(&fpga->rpt, pos, &hdr, sizeof(hdr));
	if (le32_to_cpu(hdr.magic) != FPGA_MAGIC ||
	    hdr.version != FPGA_ICD_VERSION)
		return false;
	len = RPT_HDR_SIZE + le16_to_cpu(hdr.payload_len);
	if (len > avail)
		return false;
	if (len != avail &&
	    (avail - len < sizeof(__le32) || !rpt_magic_at(fpga, pos + len)) &&
	    !rpt_crc_ok(fpga, pos, &hdr, len))
		return false;
	*size = len;
	return true;
}

/* The first position after @pos where a well-formed report starts, or @head. */
static u32 rpt_resync(struct fpga_dev *fpga, u32 pos, u32 head)
{
	u32 size;

	for (pos++; head - pos >= RPT_HDR_SIZE; pos++) {
		if (rpt_magic_at(fpga, pos) &&
		    rpt_ok(fpga, pos, head - pos, &size))
			return pos;
	}
	return head;
}

static bool rpt_pending(struct fpga_dev *fpga)
{
	return uh_load_acquire32(&fpga->io, FPGA_REPORT_RING_HEAD) !=
	       READ_ONCE(fpga->rpt_tail);
}

/* Copy the run of reports [*tail, pos) out to @buf at *copied. */
static int rpt_flush(struct fpga_dev *fpga, char __user *buf, size_t *copied,
		     u32 *tail, u32 pos)
{
	if (pos == *tail)
		return 0;
	if (ring_to_user(&fpga->rpt, *tail, buf + *copied, pos - *tail))
		return -EFAULT;
	*copied += pos - *tail;
	*tail = pos;
	return 0;
}

/*
 * Move as many whole reports as fit into @buf, from the tail on; 0 if there
 * are none. Consecutive well-formed reports are contiguous in the ring, so
 * they go out in one copy (two where the ring wraps).
 */
static ssize_t rpt_consume(struct fpga_dev *fpga, char __user *buf,
			   size_t count)
{
	u32 size, ring_size = fpga->rpt.mask + 1;
	u32 tail = fpga->rpt_tail;	/* start of the run not copied yet */
	u32 pos = tail;			/* and its end */
	u32 head = uh_load_acquire32(&fpga->io, FPGA_REPORT_RING_HEAD);
	unsigned int reports = 0, run = 0;
	size_t copied = 0;
	int ret = 0;

	for (;;) {
		if (pos == head) {
			head = uh_load_acquire32(&fpga->io, FPGA_REPORT_RING_HEAD);
			if (pos == head)
				break;
		}
		if (head - pos <= ring_size &&
		    rpt_ok(fpga, pos, head - pos, &size)) {
			if (size > count - copied - (pos - tail)) {
				if (!copied && pos == tail)
					ret = -EMSGSIZE;
				break;
			}
			pos += size;
			run++;
			continue;
		}
		/* Malformed: hand out the run before it, then skip it. */
		ret = rpt_flush(fpga, buf, &copied, &tail, pos);
		if (ret)
			goto out;
		reports += run;
		run = 0;
		atomic64_inc(&fpga->malformed);
		if (head - pos > ring_size) {
			/* Not a head the device could have written. */
			pr_warn_ratelimited("uh_fpga: %s: head %u is %u bytes past tail %u\n",
					    fpga->name, head, head - pos, pos);
			tail = head;
		} else {
			tail = rpt_resync(fpga, pos, head);
		}
		pos = tail;
	}
	if (!ret) {
		ret = rpt_flush(fpga, buf, &copied, &tail, pos);
		if (!ret)
			reports += run;
	}
out:
	if (tail != fpga->rpt_tail) {
		WRITE_ONCE(fpga->rpt_tail, tail);
		/* Our reads of the reports come before the device reuses them. */
		uh_store_release32(&fpga->io, FPGA_REPORT_RING_TAIL, tail);
	}
	atomic64_add(reports, &fpga->reports);
	atomic64_add(copied, &fpga->bytes);
	return copied ? copied : ret;
}

/* Whether a simulator died since @ff last heard of it. */
static bool fpga_sim_lost(struct fpga_file *ff)
{
	return atomic_read(&ff->fpga->sim_losses) != READ_ONCE(ff->sim_losses);
}

/* The same, and @ff has now heard of it: it is told once. */
static bool fpga_sim_lost_heard(struct fpga_file *ff)
{
	int losses = atomic_read(&ff->fpga->sim_losses);

	if (losses == READ_ONCE(ff->sim_losses))
		return false;
	WRITE_ONCE(ff->sim_losses, losses);
	return true;
}

static ssize_t fpga_read(struct file *file, char __user *buf, size_t count,
			 loff_t *ppos)
{
	struct fpga_file *ff = file->private_data;
	struct fpga_dev *fpga = ff->fpga;
	ssize_t ret;

	if (!count)
		return 0;
	if (mutex_lock_interruptible(&fpga->read_lock))
		return -ERESTARTSYS;
	for (;;) {
		ret = rpt_consume(fpga, buf, count);
		if (ret)
			break;
		/* Nothing, or only malformed bytes, now skipped. */
		mutex_unlock(&fpga->read_lock);
		if (fpga_sim_lost_heard(ff))
			return -ECONNRESET;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		if (wait_event_interruptible(fpga->read_wq,
					     rpt_pending(fpga) ||
					     fpga_sim_lost(ff)))
			return -ERESTARTSYS;
		if (mutex_lock_interruptible(&fpga->read_lock))
			return -ERESTARTSYS;
	}
	mutex_unlock(&fpga->read_lock);
	/* A device made these: ask now whether a simulator is there. */
	if (ret > 0 && !READ_ONCE(fpga->sim_present))
		mod_delayed_work(system_wq, &fpga->watch, 0);
	return ret;
}

/* --- commands ------------------------------------------------------------- */

static u32 cmd_space(struct fpga_dev *fpga)
{
	u32 used = READ_ONCE(fpga->cmd_head) -
		   uh_load_acquire32(&fpga->io, FPGA_CMD_RING_TAIL);
	u32 size = fpga->cmd.mask + 1;

	return used > size ? 0 : size - used;
}

/*
 * Tell the device there are commands; 0 if a simulator got it, else why not
 * (-ENOENT: no socket, -ECONNREFUSED: nobody receives on it). The simulator
 * owns the socket, so it may be missing (not started: the commands wait in
 * the ring) or replaced (restarted: the old connection is refused, so
 * connect again once). Called with write_lock held.
 */
static int fpga_ring_doorbell(struct fpga_dev *fpga)
{
	static const char bell = 1;
	int tries, err = 0;

	for (tries = 0; tries < 2; tries++) {
		if (fpga->doorbell_fd < 0) {
			err = os_connect_dgram_socket(fpga->doorbell_path);
			if (err < 0)
				break;
			fpga->doorbell_fd = err;
		}
		err = os_write_file(fpga->doorbell_fd, &bell, sizeof(bell));
		/* A full queue means a doorbell is pending already. */
		if (err >= 0 || err == -EAGAIN)
			return 0;
		os_close_file(fpga->doorbell_fd);
		fpga->doorbell_fd = -1;
	}
	return err;
}

/*
 * Whether the simulator is still there, asked every FPGA_WATCH_PERIOD while
 * the device is open, and at once when reports arrive from a simulator not
 * known yet, by ringing its doorbell (a ring only means "look at the
 * command ring", so a spare one is harmless). A ring that gets through
 * means a simulator is present. A simulator that stops removes its socket:
 * then, as before any has started, the ring finds no socket and readers
 * wait for the next simulator. One that dies (killed, or failing) leaves
 * its socket behind: a ring it refuses, after one got through, is a death,
 * which wakes everyone waiting to tell them.
 */
static void fpga_watch(struct work_struct *work)
{
	struct fpga_dev *fpga = container_of(to_delayed_work(work),
					     struct fpga_dev, watch);
	bool was_present = fpga->sim_present;
	int err;

	mutex_lock(&fpga->write_lock);
	err = fpga_ring_doorbell(fpga);
	mutex_unlock(&fpga->write_lock);
	WRITE_ONCE(fpga->sim_present, !err);
	if (was_present && err == -ECONNREFUSED) {
		atomic_inc(&fpga->sim_losses);
		pr_warn("uh_fpga: %s: the simulator died (nobody receives on %s)\n",
			fpga->name, fpga->doorbell_path);
		wake_up_interruptible(&fpga->read_wq);
		wake_up_interruptible(&fpga->write_wq);
	}
	schedule_delayed_work(&fpga->watch, FPGA_WATCH_PERIOD);
}

static bool cmd_valid(const void *cmd, size_t count)
{
	const struct fpga_cmd_hdr *hdr = cmd;

	return le32_to_cpu(hdr->magic) == FPGA_CMD_MAGIC &&
	       hdr->version == FPGA_ICD_VERSION &&
	       CMD_HDR_SIZE + le16_to_cpu(hdr->payload_len) == count;
}

static ssize_t fpga_write(struct file *file, const char __user *buf,
			  size_t count, loff_t *ppos)
{
	struct fpga_file *ff = file->private_data;
	struct fpga_dev *fpga = ff->fpga;
	ssize_t ret = count;
	void *cmd;

	if (count < CMD_HDR_SIZE || count > FPGA_MAX_CMD)
		return -EINVAL;
	cmd = memdup_user(buf, count);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (!cmd_valid(cmd, count)) {
		ret = -EINVAL;
		goto out;
	}
	if (mutex_lock_interruptible(&fpga->write_lock)) {
		ret = -ERESTARTSYS;
		goto out;
	}
	while (cmd_space(fpga) < count) {
		mutex_unlock(&fpga->write_lock);
		/* Nobody will make room: the simulator died. */
		if (fpga_sim_lost_heard(ff)) {
			ret = -ECONNRESET;
			goto out;
		}
		if (file->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out;
		}
		if (wait_event_interruptible(fpga->write_wq,
					     cmd_space(fpga) >= count ||
					     fpga_sim_lost(ff)) ||
		    mutex_lock_interruptible(&fpga->write_lock)) {
			ret = -ERESTARTSYS;
			goto out;
		}
	}
	ring_write(&fpga->cmd, fpga->cmd_head, cmd, count);
	WRITE_ONCE(fpga->cmd_head, fpga->cmd_head + count);
	/* The command's bytes are in the ring before the device sees the head. */
	uh_store_release32(&fpga->io, FPGA_CMD_RING_HEAD, fpga->cmd_head);
	atomic64_inc(&fpga->commands);
	if (fpga_ring_doorbell(fpga))
		atomic64_inc(&fpga->doorbell_misses);
	mutex_unlock(&fpga->write_lock);
out:
	kfree(cmd);
	return ret;
}

static __poll_t fpga_poll(struct file *file, poll_table *wait)
{
	struct fpga_file *ff = file->private_data;
	struct fpga_dev *fpga = ff->fpga;
	__poll_t mask = 0;

	poll_wait(file, &fpga->read_wq, wait);
	poll_wait(file, &fpga->write_wq, wait);
	if (rpt_pending(fpga))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (cmd_space(fpga) >= FPGA_MAX_CMD)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (fpga_sim_lost(ff))
		mask |= EPOLLERR;	/* read() or write() says what */
	return mask;
}

/* --- open, interrupt ------------------------------------------------------ */

static void fpga_set_ctrl(struct fpga_dev *fpga, u32 bits, bool on)
{
	u32 ctrl = uh_read32(&fpga->io, FPGA_CTRL);

	uh_write32(&fpga->io, FPGA_CTRL, on ? ctrl | bits : ctrl & ~bits);
}

static int fpga_open(struct inode *inode, struct file *file)
{
	struct fpga_dev *fpga = container_of(inode->i_cdev, struct fpga_dev,
					     cdev);
	struct fpga_file *ff;

	ff = kzalloc(sizeof(*ff), GFP_KERNEL);
	if (!ff)
		return -ENOMEM;
	ff->fpga = fpga;
	ff->sim_losses = atomic_read(&fpga->sim_losses);
	file->private_data = ff;
	mutex_lock(&fpga->open_lock);
	if (!fpga->users++) {
		/* What was known of a simulator is stale: ask now. */
		WRITE_ONCE(fpga->sim_present, false);
		schedule_delayed_work(&fpga->watch, 0);
	}
	if ((file->f_mode & FMODE_READ) && !fpga->readers++)
		fpga_set_ctrl(fpga, FPGA_CTRL_ENABLE, true);
	mutex_unlock(&fpga->open_lock);
	return stream_open(inode, file);
}

static int fpga_release(struct inode *inode, struct file *file)
{
	struct fpga_file *ff = file->private_data;
	struct fpga_dev *fpga = ff->fpga;

	mutex_lock(&fpga->open_lock);
	if ((file->f_mode & FMODE_READ) && !--fpga->readers)
		fpga_set_ctrl(fpga, FPGA_CTRL_ENABLE, false);
	/* Under open_lock, so that an open cannot start it meanwhile. */
	if (!--fpga->users)
		cancel_delayed_work_sync(&fpga->watch);
	mutex_unlock(&fpga->open_lock);
	kfree(ff);
	return 0;
}

static const struct file_operations fpga_fops = {
	.owner		= THIS_MODULE,
	.open		= fpga_open,
	.release	= fpga_release,
	.read		= fpga_read,
	.write		= fpga_write,
	.poll		= fpga_poll,
	.llseek		= UH_NO_LLSEEK,
};

static u32 fpga_overflows(struct fpga_dev *fpga)
{
	return uh_read32(&fpga->io, FPGA_REPORTS_DROPPED) - fpga->dropped_at_load;
}

static irqreturn_t fpga_interrupt(int irq, void *data)
{
	struct fpga_dev *fpga = data;
	u32 status;

	uh_iomem_drain(&fpga->io);
	virt_rmb();	/* the datagram follows the simulator's register writes */
	status = uh_read32(&fpga->io, FPGA_INTR_STATUS) &
		 uh_read32(&fpga->io, FPGA_INTR_MASK);
	if (!status)
		return IRQ_NONE;
	/* Ack first: an event after the ack sets its bit (and the line) again. */
	uh_iomem_clear32(&fpga->io, FPGA_INTR_STATUS, status);
	atomic64_inc(&fpga->interrupts);
	if (status & (FPGA_INTR_REPORT_READY | FPGA_INTR_OVERFLOW))
		wake_up_interruptible(&fpga->read_wq);
	if (status & FPGA_INTR_CMD_DONE)
		wake_up_interruptible(&fpga->write_wq);
	if (status & FPGA_INTR_OVERFLOW)
		pr_warn_ratelimited("uh_fpga: %s: report ring full, %u reports dropped\n",
				    fpga->name, fpga_overflows(fpga));
	return IRQ_HANDLED;
}

/* --- sysfs ---------------------------------------------------------------- */

#define FPGA_COUNTER_ATTR(counter)					\
static ssize_t counter##_show(struct device *dev,			\
			      struct device_attribute *attr, char *buf)	\
{									\
	struct fpga_dev *fpga = dev_get_drvdata(dev);			\
									\
	return sysfs_emit(buf, "%lld\n",				\
			  (long long)atomic64_read(&fpga->counter));	\
}									\
static DEVICE_ATTR_RO(counter)

FPGA_COUNTER_ATTR(reports);
FPGA_COUNTER_ATTR(bytes);
FPGA_COUNTER_ATTR(malformed);
FPGA_COUNTER_ATTR(commands);
FPGA_COUNTER_ATTR(interrupts);
FPGA_COUNTER_ATTR(doorbell_misses);

/* Reports the device dropped on a full ring since the driver loaded. */
static ssize_t overflows_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	return sysfs_emit(buf, "%u\n", fpga_overflows(dev_get_drvdata(dev)));
}
static DEVICE_ATTR_RO(overflows);

static ssize_t ring_size_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct fpga_dev *fpga = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%u\n", fpga->rpt.mask + 1);
}
static DEVICE_ATTR_RO(ring_size);

static struct attribute *fpga_attrs[] = {
	&dev_attr_reports.attr,
	&dev_attr_bytes.attr,
	&dev_attr_overflows.attr,
	&dev_attr_malformed.attr,
	&dev_attr_commands.attr,
	&dev_attr_interrupts.attr,
	&dev_attr_doorbell_misses.attr,
	&dev_attr_ring_size.attr,
	NULL,
};
ATTRIBUTE_GROUPS(fpga);

/* --- probe ---------------------------------------------------------------- */

/* Program the rings and pick up where the device is. */
static void fpga_setup_rings(struct fpga_dev *fpga, u32 rpt_size)
{
	struct uh_iomem_dev *io = &fpga->io;
	u32 cmd_tail;

	fpga->rpt.base = io->base + FPGA_REPORT_RING_OFFSET;
	fpga->rpt.mask = rpt_size - 1;
	fpga->cmd.base = io->base + FPGA_CMD_RING_OFFSET;
	fpga->cmd.mask = FPGA_CMD_RING_BYTES - 1;
	uh_write32(io, FPGA_REPORT_RING_BASE, FPGA_REPORT_RING_OFFSET);
	uh_write32(io, FPGA_REPORT_RING_SIZE, rpt_size);
	uh_write32(io, FPGA_CMD_RING_BASE, FPGA_CMD_RING_OFFSET);
	uh_write32(io, FPGA_CMD_RING_SIZE, FPGA_CMD_RING_BYTES);
	/* Reports from before this load are stale: start at the head. */
	fpga->rpt_tail = uh_load_acquire32(io, FPGA_REPORT_RING_HEAD);
	uh_store_release32(io, FPGA_REPORT_RING_TAIL, fpga->rpt_tail);
	/* Commands queued before are kept, unless the indices make no sense. */
	fpga->cmd_head = uh_read32(io, FPGA_CMD_RING_HEAD);
	cmd_tail = uh_load_acquire32(io, FPGA_CMD_RING_TAIL);
	if (fpga->cmd_head - cmd_tail > FPGA_CMD_RING_BYTES) {
		fpga->cmd_head = cmd_tail;
		uh_store_release32(io, FPGA_CMD_RING_HEAD, cmd_tail);
	}
}

static int fpga_probe(struct fpga_dev *fpga, int index)
{
	struct uh_iomem_dev *io = &fpga->io;
	unsigned long usable;
	u32 id, rpt_size;
	int err;

	fpga->index = index;
	snprintf(fpga->name, sizeof(fpga->name), "fpga%d", index);
	err = uh_iomem_map(io, fpga->name);
	if (err)
		return err;
	/* UML maps one page past the end of the file. */
	usable = io->size > PAGE_SIZE ? io->size - PAGE_SIZE : 0;
	if (usable < FPGA_REPORT_RING_OFFSET + FPGA_MIN_REPORT_RING) {
		pr_err("uh_fpga: %s: region of %lu bytes, needs %u\n", fpga->name,
		       usable, FPGA_REPORT_RING_OFFSET + FPGA_MIN_REPORT_RING);
		return -EINVAL;
	}
	/* 0: the simulator has not attached yet, which is fine. */
	id = uh_read32(io, FPGA_ID);
	if (id && id != FPGA_ID_VALUE) {
		pr_err("uh_fpga: %s: ID %#x is not an FPGA's\n", fpga->name, id);
		return -ENODEV;
	}
	rpt_size = rounddown_pow_of_two(min_t(unsigned long,
						 usable - FPGA_REPORT_RING_OFFSET, SZ_1G));

	mutex_init(&fpga->read_lock);
	mutex_init(&fpga->write_lock);
	mutex_init(&fpga->open_lock);
	init_waitqueue_head(&fpga->read_wq);
	init_waitqueue_head(&fpga->write_wq);
	INIT_DELAYED_WORK(&fpga->watch, fpga_watch);
	fpga->doorbell_fd = -1;
	err = umid_file_name((char *)"", fpga->doorbell_path,
			     sizeof(fpga->doorbell_path));
	if (!err &&
	    strlcat(fpga->doorbell_path, fpga->name, UH_SOCKET_PATH_MAX) >=
	    UH_SOCKET_PATH_MAX - sizeof("-doorbell"))
		err = -ENAMETOOLONG;
	if (err)
		return err;
	strlcat(fpga->doorbell_path, "-doorbell", UH_SOCKET_PATH_MAX);

	/* Quiet until the rings are set up; no streaming until a reader opens. */
	uh_write32(io, FPGA_CTRL, 0);
	uh_write32(io, FPGA_INTR_MASK, 0);
	fpga_setup_rings(fpga, rpt_size);
	fpga->dropped_at_load = uh_read32(io, FPGA_REPORTS_DROPPED);

	err = uh_iomem_request_irq(io, fpga_interrupt, fpga);
	if (err) {
		pr_err("uh_fpga: %s: cannot set up the interrupt (%d)\n",
		       fpga->name, err);
		return err;
	}
	/* Stale status from an earlier load must not look like an event. */
	uh_iomem_clear32(io, FPGA_INTR_STATUS, ~0U);
	uh_write32(io, FPGA_INTR_MASK, INTR_ALL);
	fpga_set_ctrl(fpga, FPGA_CTRL_IRQ_EN, true);

	cdev_init(&fpga->cdev, &fpga_fops);
	fpga->cdev.owner = THIS_MODULE;
	err = cdev_add(&fpga->cdev, MKDEV(MAJOR(fpga_devt), index), 1);
	if (err)
		goto out_irq;
	fpga->device = device_create_with_groups(fpga_class, NULL,
						 MKDEV(MAJOR(fpga_devt), index),
						 fpga, fpga_groups, "%s",
						 fpga->name);
	if (IS_ERR(fpga->device)) {
		err = PTR_ERR(fpga->device);
		goto out_cdev;
	}
	pr_info("uh_fpga: %s: report ring %u bytes, irq %d, doorbell %s\n",
		fpga->name, rpt_size, io->irq, fpga->doorbell_path);
	return 0;

out_cdev:
	cdev_del(&fpga->cdev);
out_irq:
	uh_write32(io, FPGA_CTRL, 0);
	uh_write32(io, FPGA_INTR_MASK, 0);
	uh_iomem_free_irq(io, fpga);
	return err;
}

/* Called only when no file is open: open files hold the module. */
static void fpga_remove(struct fpga_dev *fpga)
{
	/* Tell the device to stop before its interrupt line goes away. */
	uh_write32(&fpga->io, FPGA_CTRL, 0);
	uh_write32(&fpga->io, FPGA_INTR_MASK, 0);
	uh_iomem_free_irq(&fpga->io, fpga);	/* waits for a running handler */
	device_destroy(fpga_class, MKDEV(MAJOR(fpga_devt), fpga->index));
	cdev_del(&fpga->cdev);
	if (fpga->doorbell_fd >= 0)
		os_close_file(fpga->doorbell_fd);
}

static void fpga_remove_all(void)
{
	int i;

	for (i = 0; i < FPGA_MAX_DEVICES; i++) {
		if (!fpga_devs[i])
			continue;
		fpga_remove(fpga_devs[i]);
		kfree(fpga_devs[i]);
		fpga_devs[i] = NULL;
	}
}

static int __init fpga_init(void)
{
	struct fpga_dev *fpga;
	int i, err, found = 0;

	err = alloc_chrdev_region(&fpga_devt, 0, FPGA_MAX_DEVICES, "fpga");
	if (err)
		return err;
	fpga_class = uh_class_create("fpga");
	if (IS_ERR(fpga_class)) {
		err = PTR_ERR(fpga_class);
		goto out_region;
	}
	for (i = 0; i < FPGA_MAX_DEVICES; i++) {
		fpga = kzalloc(sizeof(*fpga), GFP_KERNEL);
		if (!fpga) {
			err = -ENOMEM;
			goto out_remove;
		}
		err = fpga_probe(fpga, i);
		if (err) {
			/* No region fpgaN is the normal case; others are logged. */
			kfree(fpga);
			continue;
		}
		fpga_devs[i] = fpga;
		found++;
	}
	if (!found) {
		pr_err("uh_fpga: no usable iomem region fpga0..fpga%d\n",
		       FPGA_MAX_DEVICES - 1);
		err = -ENODEV;
		goto out_class;
	}
	return 0;

out_remove:
	fpga_remove_all();
out_class:
	class_destroy(fpga_class);
out_region:
	unregister_chrdev_region(fpga_devt, FPGA_MAX_DEVICES);
	return err;
}

static void __exit fpga_exit(void)
{
	fpga_remove_all();
	class_destroy(fpga_class);
	unregister_chrdev_region(fpga_devt, FPGA_MAX_DEVICES);
}

module_init(fpga_init);
module_exit(fpga_exit);

MODULE_DESCRIPTION("Reports and commands for FPGAs simulated on the host");
MODULE_LICENSE("GPL");
/* Loaded by the guest's init for each of these iomem regions. */
MODULE_ALIAS("iomem:fpga0");
MODULE_ALIAS("iomem:fpga1");
MODULE_ALIAS("iomem:fpga2");
MODULE_ALIAS("iomem:fpga3");
