// Command cairn-echo-go is a Unix-socket echo server for cairn-bench-go's baseline: it
// writes back what it reads, 56 bytes at a time, to every client.
//
//	cairn-echo-go --socket PATH
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	path := flag.String("socket", "", "listen on this Unix socket path (required)")
	flag.Parse()
	if *path == "" {
		fmt.Fprintln(os.Stderr, "cairn-echo-go: --socket PATH is required")
		os.Exit(2)
	}
	os.Remove(*path)
	ln, err := net.Listen("unix", *path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cairn-echo-go:", err)
		os.Exit(1)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "cairn-echo-go:", err)
			os.Exit(1)
		}
		go func(c net.Conn) {
			defer c.Close()
			var b [56]byte
			for {
				if _, err := io.ReadFull(c, b[:]); err != nil {
					return
				}
				if _, err := c.Write(b[:]); err != nil {
					return
				}
			}
		}(c)
	}
}
