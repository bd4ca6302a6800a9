// TCP relay beside the real claude-max-api-proxy in its container. Why: its standalone server
// listens on 127.0.0.1 only (dist/server/index.js: `host = "127.0.0.1"`), which Docker's port
// publishing cannot reach. The relay listens on the container's own (non-loopback) IPv4
// addresses at the same port and pipes every connection to 127.0.0.1, byte for byte; it writes
// nothing to stdout/stderr except a fatal error, so the container's log is the proxy's alone.
// Usage: node relay.js [port=3456] [ready-file]; the ready file is written once all listen.
"use strict";

const fs = require("fs");
const net = require("net");
const os = require("os");

const port = Number(process.argv[2] || 3456);
const readyFile = process.argv[3];
const addresses = [];
for (const list of Object.values(os.networkInterfaces())) {
  for (const a of list || []) if (a.family === "IPv4" && !a.internal) addresses.push(a.address);
}
if (addresses.length === 0) {
  process.stderr.write("relay: no non-loopback IPv4 address to listen on\n");
  process.exit(1);
}
let listening = 0;
for (const host of addresses) {
  net
    .createServer((client) => {
      const upstream = net.connect(port, "127.0.0.1");
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    })
    .listen(port, host, () => {
      listening += 1;
      if (readyFile && listening === addresses.length) fs.writeFileSync(readyFile, "ready\n");
    });
}
