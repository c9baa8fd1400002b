// SPDX-License-Identifier: GPL-2.0
/*
 * uh_rtl8111 - a network driver for an RTL8111 simulated on the host.
 *
 * It drives the part of the chip the link-status simulation needs, with the
 * register names of the r8169 driver: the MAC address (IDR0-5), the
 * interrupt mask and status (link change, bit 5) and the PHY status (link,
 * speed, duplex). A link-change interrupt turns the carrier of a real
 * net_device on or off, so the guest's networking sees it as it would see a
 * cable being plugged in. Transmitted frames are counted and dropped.
 */

#include <linux/etherdevice.h>
#include <linux/ethtool.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/skbuff.h>

#include <uh_iomem.h>
#include <uh/rtl8111_regs.h>	/* r8169's names, from simulators/rtl8111/regs.py */

static char *region = "mock";
module_param(region, charp, 0444);
MODULE_PARM_DESC(region, "iomem region holding the registers (default: mock)");

struct rtl8111 {
	struct net_device *dev;
	struct uh_iomem_dev io;
};

static bool rtl_link_up(struct rtl8111 *tp)
{
	return uh_read8(&tp->io, PHYstatus) & LinkStatus;
}

static void rtl_update_carrier(struct rtl8111 *tp, bool announce)
{
	bool up = rtl_link_up(tp);

	if (announce)
		pr_info("Link status changed to %s\n", up ? "UP" : "DOWN");
	if (up)
		netif_carrier_on(tp->dev);
	else
		netif_carrier_off(tp->dev);
}

static irqreturn_t rtl8111_interrupt(int irq, void *data)
{
	struct rtl8111 *tp = data;
	u16 status;

	uh_iomem_drain(&tp->io);
	smp_rmb();	/* the datagram follows the simulator's register writes */
	status = uh_read16(&tp->io, IntrStatus) & uh_read16(&tp->io, IntrMask);
	if (!status)
		return IRQ_NONE;
	/* Acknowledge first, then read the state, as r8169 does: a change that
	 * lands after the ack sets the bit again and raises another interrupt,
	 * so the last change is never acknowledged without being read. SWInt
	 * carries no event: the ack is all there is to it, which lets a
	 * simulator measure the interrupt round trip on its own.
	 */
	uh_iomem_clear16(&tp->io, IntrStatus, status);
	if (status & LinkChg)
		rtl_update_carrier(tp, true);
	return IRQ_HANDLED;
}

static int rtl8111_open(struct net_device *dev)
{
	struct rtl8111 *tp = netdev_priv(dev);

	rtl_update_carrier(tp, false);
	netif_start_queue(dev);
	return 0;
}

static int rtl8111_stop(struct net_device *dev)
{
	netif_stop_queue(dev);
	return 0;
}

static netdev_tx_t rtl8111_start_xmit(struct sk_buff *skb,
				      struct net_device *dev)
{
	dev->stats.tx_packets++;
	dev->stats.tx_bytes += skb->len;
	dev_kfree_skb(skb);
	return NETDEV_TX_OK;
}

static const struct net_device_ops rtl8111_netdev_ops = {
	.ndo_open		= rtl8111_open,
	.ndo_stop		= rtl8111_stop,
	.ndo_start_xmit		= rtl8111_start_xmit,
	.ndo_validate_addr	= eth_validate_addr,
	.ndo_set_mac_address	= eth_mac_addr,
};

static int rtl8111_get_link_ksettings(struct net_device *dev,
				      struct ethtool_link_ksettings *cmd)
{
	struct rtl8111 *tp = netdev_priv(dev);
	u8 phy = uh_read8(&tp->io, PHYstatus);

	ethtool_link_ksettings_zero_link_mode(cmd, supported);
	ethtool_link_ksettings_add_link_mode(cmd, supported, 10baseT_Full);
	ethtool_link_ksettings_add_link_mode(cmd, supported, 100baseT_Full);
	ethtool_link_ksettings_add_link_mode(cmd, supported, 1000baseT_Full);
	ethtool_link_ksettings_add_link_mode(cmd, supported, TP);
	cmd->base.port = PORT_TP;
	cmd->base.autoneg = AUTONEG_ENABLE;
	if (!(phy & LinkStatus)) {
		cmd->base.speed = SPEED_UNKNOWN;
		cmd->base.duplex = DUPLEX_UNKNOWN;
		return 0;
	}
	if (phy & _1000bpsF)
		cmd->base.speed = SPEED_1000;
	else if (phy & _100bps)
		cmd->base.speed = SPEED_100;
	else if (phy & _10bps)
		cmd->base.speed = SPEED_10;
	else
		cmd->base.speed = SPEED_UNKNOWN;
	/* 1000 Mbps is full duplex only, as on the real chip. */
	cmd->base.duplex = (phy & (FullDup | _1000bpsF)) ? DUPLEX_FULL : DUPLEX_HALF;
	return 0;
}

static const struct ethtool_ops rtl8111_ethtool_ops = {
	.get_link		= ethtool_op_get_link,
	.get_link_ksettings	= rtl8111_get_link_ksettings,
};

static void rtl8111_read_mac(struct rtl8111 *tp)
{
	u8 addr[ETH_ALEN];
	int i;

	for (i = 0; i < ETH_ALEN; i++)
		addr[i] = uh_read8(&tp->io, MAC0 + i);
	if (is_valid_ether_addr(addr)) {
		eth_hw_addr_set(tp->dev, addr);
		return;
	}
	/* No address programmed, as on a board without an EEPROM: make one up
	 * and store it, so the simulator and the guest agree on it.
	 */
	eth_hw_addr_random(tp->dev);
	for (i = 0; i < ETH_ALEN; i++)
		uh_write8(&tp->io, MAC0 + i, tp->dev->dev_addr[i]);
}

static struct net_device *rtl8111_dev;

static int __init rtl8111_init(void)
{
	struct net_device *dev;
	struct rtl8111 *tp;
	int err;

	dev = alloc_etherdev(sizeof(*tp));
	if (!dev)
		return -ENOMEM;
	tp = netdev_priv(dev);
	tp->dev = dev;

	err = uh_iomem_map(&tp->io, region);
	if (err) {
		pr_err("uh_rtl8111: no iomem region '%s'\n", region);
		goto out_free;
	}
	if (tp->io.size < RTL_REGS_SIZE) {
		pr_err("uh_rtl8111: iomem region '%s' is %lu bytes, needs %d\n",
		       region, tp->io.size, RTL_REGS_SIZE);
		err = -EINVAL;
		goto out_free;
	}

	dev->netdev_ops = &rtl8111_netdev_ops;
	dev->ethtool_ops = &rtl8111_ethtool_ops;
	rtl8111_read_mac(tp);
	netif_carrier_off(dev);

	err = uh_iomem_request_irq(&tp->io, rtl8111_interrupt, tp);
	if (err) {
		pr_err("uh_rtl8111: cannot set up the interrupt for '%s' (%d)\n",
		       region, err);
		goto out_free;
	}
	err = register_netdev(dev);
	if (err)
		goto out_irq;

	/* Stale status from an earlier load must not look like an event. */
	uh_iomem_clear16(&tp->io, IntrStatus, 0xffff);
	uh_write16(&tp->io, IntrMask, LinkChg | SWInt);
	rtl_update_carrier(tp, false);
	rtl8111_dev = dev;
	netdev_info(dev, "RTL8111 on iomem '%s', MAC %pM, irq %d, socket %s\n",
		    region, dev->dev_addr, tp->io.irq, tp->io.socket_path);
	return 0;

out_irq:
	uh_iomem_free_irq(&tp->io, tp);
out_free:
	free_netdev(dev);
	return err;
}

static void __exit rtl8111_exit(void)
{
	struct net_device *dev = rtl8111_dev;
	struct rtl8111 *tp = netdev_priv(dev);

	/* Tell the simulator the interrupt is off before the socket goes. */
	uh_write16(&tp->io, IntrMask, 0);
	unregister_netdev(dev);
	uh_iomem_free_irq(&tp->io, tp);
	free_netdev(dev);
}

module_init(rtl8111_init);
module_exit(rtl8111_exit);

MODULE_DESCRIPTION("RTL8111 link status on a host-simulated device");
MODULE_LICENSE("GPL");
/* Loaded by the guest's init for each iomem region of this name. */
MODULE_ALIAS("iomem:mock");
