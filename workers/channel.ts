// The agent's end of fd 3. Frames written in one tick leave in one write.
import { Socket } from 'node:net';
import { FrameReader, FrameWriter, unpackValue } from '../supervisor/wire/frame.js';
import type { SupervisorHeader } from '../supervisor/wire/header.js';

export type FrameHandler = (header: SupervisorHeader, body: Buffer) => void;

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

  /** Resolves once everything written so far has reached the kernel. */
  flush(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.writer.flush();
      this.socket.write(Buffer.alloc(0), () => resolve());
    });
  }
}
