// Preloaded into a child process (node -r): any attempt to open a network connection is
// recorded to $ADAPT_LAB_NET_LOG and refused, so a test can prove the trainer opens none.
const fs = require('node:fs');
const log = process.env.ADAPT_LAB_NET_LOG;
function refuse(what) {
  return function () {
    if (log) fs.appendFileSync(log, `${what}\n`);
    throw new Error(`network access refused: ${what}`);
  };
}
const net = require('node:net');
net.Socket.prototype.connect = refuse('net.Socket.connect');
net.connect = net.createConnection = refuse('net.connect');
require('node:tls').connect = refuse('tls.connect');
const dgram = require('node:dgram');
dgram.createSocket = refuse('dgram.createSocket');
const dns = require('node:dns');
dns.lookup = refuse('dns.lookup');
dns.resolve = refuse('dns.resolve');
for (const m of ['http', 'https']) {
  const mod = require(`node:${m}`);
  mod.request = refuse(`${m}.request`);
  mod.get = refuse(`${m}.get`);
}
if (typeof globalThis.fetch === 'function') globalThis.fetch = refuse('fetch');
