// Classic Node.js `ws` broadcast server (peer for the Tidings benchmarks).
//
// Usage: node ws-server.mjs [PORT]   (PORT 0 or omitted = OS picks)
// Prints exactly one line `listening on PORT` to stdout once listening.
// Every message received from any client is sent to every connected client
// (sender included), text as text, with the idiomatic pattern from the `ws`
// README. No batching, permessage-deflate disabled.
import { WebSocketServer, WebSocket } from 'ws';

const HOST = '127.0.0.1';
const port = Number.parseInt(process.argv[2] ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2]}`);
  process.exit(2);
}

const wss = new WebSocketServer({ host: HOST, port, perMessageDeflate: false });

wss.on('connection', (ws) => {
  ws.on('error', (err) => console.error('client error:', err.message));
  ws.on('message', (data, isBinary) => {
    // `data` is the Buffer as received. In ws 8 a Buffer is sent as a binary
    // frame unless told otherwise, so pass the received frame type through:
    // text frames go out as text frames with the same bytes.
    wss.clients.forEach((c) => {
      if (c.readyState === WebSocket.OPEN) c.send(data, { binary: isBinary });
    });
  });
});

wss.on('listening', () => {
  process.stdout.write(`listening on ${wss.address().port}\n`);
});

wss.on('error', (err) => {
  console.error('server error:', err.message);
  process.exit(1);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  for (const c of wss.clients) c.terminate();
  wss.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
