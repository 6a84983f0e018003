// Node's https.get to https://SNI:PORT/ (the name resolves to 127.0.0.1 in the recording
// namespace), certificate not checked. With a third argument "1.0" the offer is pinned to
// TLS 1.0 (minVersion/maxVersion "TLSv1"), as old code pins it; OpenSSL 3 needs security
// level 0 for TLS 1.0 at all, so the pinned run says so in its ciphers, as such code must.
const https = require("https");
const [sni, port, pin] = process.argv.slice(2);
const opts = { host: sni, port: +port, path: "/", rejectUnauthorized: false, timeout: 5000 };
if (pin === "1.0") {
  Object.assign(opts, { minVersion: "TLSv1", maxVersion: "TLSv1", ciphers: "DEFAULT:@SECLEVEL=0" });
}
const req = https.get(opts, (res) => { res.resume(); res.on("end", () => process.exit(0)); });
req.on("error", () => process.exit(0));
req.on("timeout", () => req.destroy());
