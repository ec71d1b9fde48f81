/** What a generated Google client's first call would otherwise wait for. */
interface GeneratedClient {
  initialize(): Promise<unknown>;
}

interface GrpcStub {
  waitForReady?(deadline: number, callback: (error?: Error) => void): void;
}

/** How long a warm-up keeps trying to connect before leaving it to the first call. */
const CONNECT_DEADLINE_MILLIS = 10_000;

/**
 * Builds the client's stub (credentials included) and opens its channel, in the background.
 * A failure here is ignored: the first call meets it again and handles it.
 */
export function warmUpClient(client: GeneratedClient): void {
  client
    .initialize()
    .then((stub) => {
      (stub as GrpcStub).waitForReady?.(Date.now() + CONNECT_DEADLINE_MILLIS, () => undefined);
    })
    .catch(() => undefined);
}
