/** Where `outflow serve` listens by default (loopback: the API has no token unless OUTFLOW_TOKEN is set). */
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 4400;
