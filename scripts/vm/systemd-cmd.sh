#!/bin/busybox sh
# simcon-vm-cmd.service's command in the systemd boot (init-systemd.sh): runs run-in-vm.sh's cmd.sh from the run
# dir given as $1 with its output in output.log there, writes its status to rc and reboots the guest.
BB=/bin/busybox
RUN=$1
$BB cat /proc/uptime > "$RUN/boot-uptime"
HOME=/root TERM=dumb $BB sh "$RUN/cmd.sh" > "$RUN/output.log" 2>&1 < /dev/null
rc=$?
echo "$rc" > "$RUN/rc.tmp" && $BB mv "$RUN/rc.tmp" "$RUN/rc"
$BB sync
$BB reboot -f
