// A Go net/http client: GET https://SNI:PORT/ through 127.0.0.1, certificate not checked.
// With a third argument "1.0" it caps the offer at TLS 1.0 (tls.Config.MaxVersion), as an old
// application pinned low would.
package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"os"
)

func main() {
	sni, port := os.Args[1], os.Args[2]
	cfg := &tls.Config{InsecureSkipVerify: true, ServerName: sni}
	if len(os.Args) > 3 && os.Args[3] == "1.0" {
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
	}
	dial := func(network, addr string) (net.Conn, error) { return net.Dial("tcp", "127.0.0.1:"+port) }
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, Dial: dial}}
	if r, err := c.Get("https://" + sni + ":" + port + "/"); err == nil {
		r.Body.Close()
	}
}
