// A xenstore client over xenstored's Unix socket, for the tests in dom0:
// one connection for a whole test file instead of a `xenstore-read`
// process every 100 ms. Every process dom0 starts is page-table work for
// the emulated PV dom0, and the runs that spawned most were the ones in
// which dom0's processes died (see ../tests.sh). The wire format is
// xs_wire.h's: a 16-byte header (type, request id, transaction id, length)
// and the payload; one request at a time.
import net from 'node:net';

const socketPath = '/run/xenstored/socket';
const type = { read: 2, write: 11, rm: 13, error: 16 };
const headerBytes = 16;

export class XenstoreClient {
  #socket;
  #pending = Buffer.alloc(0);
  #waiting = null;
  #queue = Promise.resolve();
  #nextId = 1;

  static async connect() {
    const socket = net.createConnection(socketPath);
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new XenstoreClient(socket);
  }

  constructor(socket) {
    this.#socket = socket;
    socket.on('data', (data) => this.#receive(data));
    socket.on('error', (error) => this.#waiting?.reject(error));
  }

  /** The value at `path`, or null where there is none. */
  async read(path) {
    const reply = await this.#request(type.read, Buffer.from(`${path}\0`));
    return reply === null ? null : reply.toString('utf8');
  }

  async write(path, value) {
    await this.#request(type.write, Buffer.concat([Buffer.from(`${path}\0`), Buffer.from(value)]));
  }

  async rm(path) {
    await this.#request(type.rm, Buffer.from(`${path}\0`));
  }

  close() {
    this.#socket.destroy();
  }

  /** The reply's payload; null for ENOENT; other errors throw. */
  #request(kind, payload) {
    const run = () =>
      new Promise((resolve, reject) => {
        const header = Buffer.alloc(headerBytes);
        header.writeUInt32LE(kind, 0);
        header.writeUInt32LE(this.#nextId++, 4);
        header.writeUInt32LE(0, 8);
        header.writeUInt32LE(payload.length, 12);
        this.#waiting = { resolve, reject };
        this.#socket.write(Buffer.concat([header, payload]));
      });
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => {});
    return result;
  }

  #receive(data) {
    this.#pending = Buffer.concat([this.#pending, data]);
    while (this.#pending.length >= headerBytes) {
      const length = this.#pending.readUInt32LE(12);
      if (this.#pending.length < headerBytes + length) return;
      const kind = this.#pending.readUInt32LE(0);
      const body = this.#pending.subarray(headerBytes, headerBytes + length);
      this.#pending = this.#pending.subarray(headerBytes + length);
      const waiting = this.#waiting;
      this.#waiting = null;
      if (!waiting) continue;  // a watch event: none is asked for
      if (kind !== type.error) waiting.resolve(body);
      else if (body.toString('utf8').startsWith('ENOENT')) waiting.resolve(null);
      else waiting.reject(new Error(`xenstore: ${body.toString('utf8').replace(/\0$/, '')}`));
    }
  }
}
