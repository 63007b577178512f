// Command etcd is etcd 3.5 built from the go.etcd.io/etcd/server/v3 module (Debian ships only 3.4).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
