// The agent's end of fd 3. Frames written in one tick leave in one write.
import { readSync } from 'node:fs';
import { Socket } from 'node:net';
import { FrameReader, FrameWriter, unpackValue } from '../protocol/frame.js';
import type { SupervisorHeader } from '../protocol/header.js';

export type FrameHandler = (header: SupervisorHeader, body: Buffer) => void;

const nap = new Int32Array(new SharedArrayBuffer(4));

/** Read exactly n bytes from a file descriptor, blocking (a non-blocking one is waited on in 1 ms naps). */
function readExactly(fd: number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  let off = 0;
  while (off < n) {
    let got: number;
    try {
      got = readSync(fd, buf, off, n - off, null);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(nap, 0, 0, 1);
        continue;
      }
      throw err;
    }
    if (got === 0) throw new Error('the channel closed before the init frame arrived');
    off += got;
  }
  return buf;
}

/**
 * The supervisor's first frame (init), read synchronously before the socket is
 * opened on the fd: the agent's checkpoint is then known before any of its code
 * runs. Only this frame is read; the rest stays in the kernel for the socket.
 */
export function readInitFrame(fd: number): { header: SupervisorHeader; body: Buffer } {
  const prefix = readExactly(fd, 6);
  const rest = readExactly(fd, prefix.readUInt32BE(0) - 2);
  const hlen = prefix.readUInt16BE(4);
  return { header: unpackValue(rest.subarray(0, hlen)) as SupervisorHeader, body: rest.subarray(hlen) };
}

export class AgentChannel {
  private readonly socket: Socket;
  private readonly writer: FrameWriter;

  constructor(fd: number, maxFrame: number, onFrame: FrameHandler, onClose: () => void) {
    this.socket = new Socket({ fd, readable: true, writable: true });
    this.writer = new FrameWriter(this.socket);
    // The router never forwards a frame over our limit (it refuses with ETOOBIG instead).
    const reader = new FrameReader(maxFrame, {
      frame: (header, body) => onFrame(unpackValue(header) as SupervisorHeader, body),
    });
    this.socket.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        // Only a supervisor bug gets here; say so, and leave to be restarted clean.
        process.stderr.write(`outheis: unreadable frame from the supervisor: ${(err as Error).message}\n`);
        process.exit(70);
      }
    });
    this.socket.on('end', onClose);
    this.socket.on('error', onClose);
  }

  write(header: object, body?: Uint8Array): void {
    this.writer.write(header, body);
  }

  /**
   * Write now, with whatever this tick batched before it: an interactive reply does not
   * wait for the rest of the handler slice (workers/inbox.ts) that it finished in.
   */
  writeNow(header: object, body?: Uint8Array): void {
    this.writer.write(header, body);
    this.writer.flush();
  }

  /** Resolves once everything written so far has reached the kernel. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.writer.flush();
      this.socket.write(Buffer.alloc(0), () => resolve());
    });
  }
}
