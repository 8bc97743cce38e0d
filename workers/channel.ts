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
    // The supervisor's frames are bounded by our own limit too, plus header room.
    const reader = new FrameReader(maxFrame + 65536, {
      frame: (header, body) => onFrame(unpackValue(header) as SupervisorHeader, body),
    });
    this.socket.on('data', (chunk: Buffer) => reader.push(chunk));
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
