<?php
// PHP's stream wrapper (ext/openssl) to 127.0.0.1:PORT with SNI, certificate not checked.
// With a third argument "1.0" it asks for TLS 1.0 only (crypto_method), as old code pins it.
[$_, $sni, $port] = $argv;
$ssl = ["verify_peer" => false, "verify_peer_name" => false, "peer_name" => $sni, "SNI_enabled" => true];
if (($argv[3] ?? "") === "1.0") {
    $ssl["crypto_method"] = STREAM_CRYPTO_METHOD_TLSv1_0_CLIENT;
    $ssl["ciphers"] = "DEFAULT:@SECLEVEL=0";
}
$ctx = stream_context_create(["ssl" => $ssl]);
$s = @stream_socket_client("ssl://127.0.0.1:$port", $errno, $errstr, 5, STREAM_CLIENT_CONNECT, $ctx);
if ($s) {
    fwrite($s, "GET / HTTP/1.0\r\nHost: $sni\r\n\r\n");
    fread($s, 4096);
    fclose($s);
}
