// Socket.IO v4 broadcast server (peer for the Tidings benchmarks).
//
// Usage: node socketio-server.mjs [PORT]   (PORT 0 or omitted = OS picks)
// Prints exactly one line `listening on PORT` to stdout once listening.
// WebSocket transport only. A client event `pub` with one argument is
// re-emitted to every connected client (sender included) as event `msg`.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const HOST = '127.0.0.1';
const port = Number.parseInt(process.argv[2] ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`invalid port: ${process.argv[2]}`);
  process.exit(2);
}

const httpServer = createServer();
const io = new Server(httpServer, {
  transports: ['websocket'],
  perMessageDeflate: false,
  serveClient: false,
  pingInterval: 25000,
  pingTimeout: 20000,
});

io.on('connection', (socket) => {
  socket.on('pub', (arg) => {
    io.emit('msg', arg);
  });
});

httpServer.on('error', (err) => {
  console.error('server error:', err.message);
  process.exit(1);
});

httpServer.listen(port, HOST, () => {
  process.stdout.write(`listening on ${httpServer.address().port}\n`);
});

let stopping = false;
function shutdown() {
  if (stopping) return;
  stopping = true;
  // io.close() disconnects every client and closes the HTTP server.
  io.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
