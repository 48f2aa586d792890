//go:build unix

package beamfs

import "syscall"

// processAlive reports whether a process of this host still runs.
func processAlive(pid int) bool {
	return pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH
}
