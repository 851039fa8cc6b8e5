// Command pause is the sandbox ("pause") container of rekindle's offline kind
// node image, doing what Kubernetes' build/pause/linux/pause.c does: hold the
// pod's namespaces, reap the zombies of processes sharing its PID namespace,
// and exit at once on SIGINT or SIGTERM. Built statically (CGO_ENABLED=0).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getpid() != 1 {
		os.Stderr.WriteString("Warning: pause should be the first process\n")
	}
	sig := make(chan os.Signal, 8)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Stderr.WriteString("Shutting down, got signal: " + s.String() + "\n")
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
