// pause: the process of a pod sandbox. It holds the pod's namespaces open by sleeping until it is told to stop.
// Built static (CGO_ENABLED=0) so a one-layer image with only this file works as the CRI's sandbox_image.
//
// SIGINT/SIGTERM: exit 0. As PID 1 it also reaps zombies (children re-parented to it), like the upstream pause.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version is bumped by hand when this file changes (the toolchain script checks it).
const version = "1.0.0"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "-v" || os.Args[1] == "--version") {
		fmt.Println("pause", version)
		return
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	children := make(chan os.Signal, 1)
	signal.Notify(children, syscall.SIGCHLD)
	for {
		select {
		case <-stop:
			os.Exit(0)
		case <-children:
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
			}
		}
	}
}
