/**
 * Where the end-to-end test server listens. One place, read by the Playwright config, the server
 * and the specs. The second origin is the same server on the next port, for cross-origin cases.
 */
export const HOST = '127.0.0.1';
export const PORT = Number(process.env.EARSHOT_E2E_PORT ?? 4517);
export const SECOND_PORT = PORT + 1;
export const ORIGIN = `http://${HOST}:${PORT}`;
export const SECOND_ORIGIN = `http://${HOST}:${SECOND_PORT}`;
export const WS_ORIGIN = `ws://${HOST}:${PORT}`;
