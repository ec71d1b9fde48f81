import { createServer, type Server, type Socket } from 'node:net';

/** A TCP port that accepts connections and says nothing: shows whether a client connected. */
export class TcpListener {
  #connections = 0;
  readonly #sockets = new Set<Socket>();
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<TcpListener> {
    let listener: TcpListener | undefined;
    const server = createServer((socket) => listener?.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    listener = new TcpListener(server);
    return listener;
  }

  private accept(socket: Socket): void {
    this.#connections += 1;
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  get host(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return `127.0.0.1:${address.port}`;
  }

  get connections(): number {
    return this.#connections;
  }

  /** Resolves once a client has connected; rejects after `timeoutMs`. */
  async connected(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#connections === 0) {
      if (Date.now() > deadline) throw new Error(`nothing connected within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
