/**
 * @module test/helpers/raw-transfer
 * Data transfers over a RawClient (EPSV + one data socket per command), bounded by timeouts,
 * for tests that need the exact reply sequence of RETR/STOR/APPE/LIST/NLST/MLSD.
 */
import assert from 'node:assert/strict';
import type net from 'node:net';
import type { RawClient, Reply } from './raw-client.js';
import { withTimeout } from './integration.js';

export interface DataResult {
  /** The preliminary reply (150), or the only reply when the command failed before it. */
  readonly first: Reply;
  /** The completion reply (226, 425, 426, ...); undefined when `first` was already final. */
  readonly final?: Reply;
  readonly data: Buffer;
}

/** Collects a socket's bytes until it ends or closes; never rejects on reset. */
export function collect(socket: net.Socket, timeoutMs = 20_000): Promise<Buffer> {
  return withTimeout(
    new Promise<Buffer>((resolve) => {
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.once('close', () => resolve(Buffer.concat(chunks)));
    }),
    timeoutMs,
    'data socket',
  );
}

/** EPSV, connect, then `line` (RETR/LIST/NLST/MLSD ...); reads the data and both replies. */
export async function rawDownload(client: RawClient, line: string, timeoutMs = 20_000): Promise<DataResult> {
  const socket = await client.openPassiveData();
  const data = collect(socket, timeoutMs);
  const first = await client.send(line, timeoutMs);
  if (first.code !== 150 && first.code !== 125) {
    socket.destroy();
    await data;
    return { first, data: Buffer.alloc(0) };
  }
  const [bytes, final] = await Promise.all([data, client.read(timeoutMs)]);
  return { first, final, data: bytes };
}

/** EPSV, connect, then `line` (STOR/APPE/STOU ...); sends `payload` and reads both replies. */
export async function rawUpload(client: RawClient, line: string, payload: Buffer, timeoutMs = 20_000): Promise<DataResult> {
  const socket = await client.openPassiveData();
  socket.on('error', () => undefined);
  const first = await client.send(line, timeoutMs);
  if (first.code !== 150 && first.code !== 125) {
    socket.destroy();
    return { first, data: Buffer.alloc(0) };
  }
  socket.end(payload);
  const final = await client.read(timeoutMs);
  socket.destroy();
  return { first, final, data: Buffer.alloc(0) };
}

/** Sends `line` and asserts the reply code; returns the reply. */
export async function expectCode(client: RawClient, line: string, code: number, timeoutMs?: number): Promise<Reply> {
  const reply = await client.send(line, timeoutMs);
  assert.equal(reply.code, code, `${line.split(' ')[0] ?? line} -> ${reply.text}`);
  return reply;
}

/** Reads the next reply and asserts its code. */
export async function expectNext(client: RawClient, code: number, timeoutMs?: number): Promise<Reply> {
  const reply = await client.read(timeoutMs);
  assert.equal(reply.code, code, `expected ${code}, got: ${reply.text}`);
  return reply;
}

/** Asserts a complete successful download/upload (150 then 226). */
export function assertTransferOk(result: DataResult, label: string): void {
  assert.equal(result.first.code, 150, `${label}: ${result.first.text}`);
  assert.equal(result.final?.code, 226, `${label}: ${result.final?.text ?? '(no final reply)'}`);
}

/** Resolves once the control socket has closed (the server hung up), within `ms`. */
export function controlClosed(client: RawClient, ms = 5000): Promise<void> {
  if (client.closed) return Promise.resolve();
  return withTimeout(
    new Promise<void>((resolve) => client.socket.once('close', () => resolve())),
    ms,
    'control connection close',
  );
}
