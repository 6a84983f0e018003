# Ruby net/http GET https://SNI:PORT/ through 127.0.0.1, certificate not checked. With a third
# argument "1.0" the offer is capped at TLS 1.0 (ssl_version = :TLSv1), as old code pins it.
require "net/http"
require "openssl"
sni, port, pin = ARGV
http = Net::HTTP.new(sni, port.to_i)
http.ipaddr = "127.0.0.1" if http.respond_to?(:ipaddr=)
http.use_ssl = true
http.verify_mode = OpenSSL::SSL::VERIFY_NONE
if pin == "1.0"
  http.ssl_version = :TLSv1
  http.ciphers = "DEFAULT:@SECLEVEL=0"
end
begin
  http.start { |h| h.get("/") }
rescue StandardError
end
