#!/bin/busybox sh
# bpfunit vm guest init (in the initramfs): mounts the host's / read-only under a tmpfs overlay,
# the project read-write at its host path and the control share, runs the command the host wrote
# to the control share as root, writes its exit status there and powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /ctl /lower /ovl /newroot
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/modules/$m" 2>/dev/null; done
OPTS=trans=virtio,version=9p2000.L,msize=524288
die() { echo "bpfunit guest: $*" >/dev/console; poweroff -f; }
# Modules asked for (bpfunit vm --modules): a command that needs one must not run without it.
for m in $(cat /extra.order); do insmod "/modules/$m" || die "cannot load the module $m"; done
mount -t 9p -o "$OPTS" ctl /ctl || die "cannot mount the control share"
: > /ctl/booted
. /ctl/env
mount -t 9p -o "$OPTS,ro,cache=loose" hostroot /lower || die "cannot mount the host root"
mount -t tmpfs -o mode=0755 ovl /ovl
mkdir -p /ovl/upper /ovl/work
mount -t overlay -o lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work overlay /newroot || die "cannot mount the overlay"
R=/newroot
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t devtmpfs dev $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts devpts $R/dev/pts
mount -t tmpfs tmpfs $R/dev/shm
mount -t tmpfs -o mode=1777 tmpfs $R/tmp
mount -t tmpfs -o mode=0755 tmpfs $R/run
mount -t bpf bpf $R/sys/fs/bpf
mount -t debugfs debugfs $R/sys/kernel/debug
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null || mount -t tracefs tracefs $R/sys/kernel/debug/tracing
mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
# The kernel's config where a Debian system keeps it (kconfig externs read it); the host's /boot
# is under the overlay, so this writes to the tmpfs.
if [ -f /ctl/config ]; then mkdir -p $R/boot && cp /ctl/config "$R/boot/config-$(uname -r)"; fi
mkdir -p "$R$BPFUNIT_PROJECT" "$R$BPFUNIT_CTL"
mount -t 9p -o "$OPTS" project "$R$BPFUNIT_PROJECT" || die "cannot mount the project"
mount --bind /ctl "$R$BPFUNIT_CTL"
ip link set lo up
hostname bpfunit-guest
ulimit -l unlimited
: > /ctl/started
chroot $R /bin/sh "$BPFUNIT_CTL/run.sh" > /ctl/stdout 2> /ctl/stderr < /dev/null
echo $? > /ctl/status.tmp
mv /ctl/status.tmp /ctl/status
sync
poweroff -f
