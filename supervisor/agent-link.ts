// The supervisor's end of one agent's channel: split frames, validate headers,
// and batch what goes back. Anything malformed is the agent's fault and is
// reported as a fault (the agent gets killed and restarted by policy); it never
// throws into the supervisor.
import type { Socket } from 'node:net';
import { FrameError, FrameReader, FrameWriter, encodeHeader, unpackValue } from '../protocol/frame.js';
import { agentHeaderSchema, type AgentHeader, type SupervisorHeader } from '../protocol/header.js';
import { AgentHeaderReader } from '../protocol/header-read.js';

export interface LinkEvents {
  frame(header: AgentHeader, body: Buffer): void;
  /** End of one read: a natural point to flush per-batch replies such as acc. */
  batchEnd(): void;
  fault(reason: string): void;
}

/** A read this large means the agent is streaming: yield to the other channels after it. */
const STREAMING = 16 * 1024;

/**
 * A heartbeat's header, byte for byte. Idle agents send nothing else, so with 100
 * of them this is most of what an idle supervisor does: recognised by its bytes,
 * it skips decoding and validation (liveness was already noted on read).
 */
const HEARTBEAT = encodeHeader({ t: 'hb' });

/** Unread bytes we hold for an agent before calling it unresponsive. */
export const MAX_BACKLOG = 32 << 20;

export class AgentLink {
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  private readonly headers = new AgentHeaderReader();
  private faulted = false;
  lastSeen = Date.now();

  constructor(private readonly socket: Socket, maxFrame: number, private readonly events: LinkEvents) {
    this.reader = new FrameReader(maxFrame, { frame: (h, b) => this.onFrame(h, b) });
    this.writer = new FrameWriter(socket);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // EPIPE after the agent died; the exit handler takes over
  }

  private onData(chunk: Buffer): void {
    if (this.faulted) return;
    this.lastSeen = Date.now();
    try {
      this.reader.push(chunk);
    } catch (err) {
      if (err instanceof FrameError) return this.fault(`bad frame: ${err.message}`);
      return this.fault(`frame handling failed: ${(err as Error).message}`);
    }
    this.events.batchEnd();
    // A streaming sender gets one chunk per event-loop turn: libuv would otherwise keep
    // reading it (up to 32 reads in a row) while the acks that drain its target's
    // mailbox wait on another channel. Round-robin, like a fair scheduler. Small reads
    // (a request, a heartbeat) skip this: it costs two epoll_ctl calls of latency.
    if (chunk.length >= STREAMING) {
      this.socket.pause();
      setImmediate(this.resume);
    }
  }

  private readonly resume = () => {
    if (!this.faulted) this.socket.resume();
  };

  private onFrame(rawHeader: Buffer, body: Buffer): void {
    if (this.faulted) return;
    if (body.length === 0 && rawHeader.equals(HEARTBEAT)) return;
    const fast = this.headers.read(rawHeader);
    if (fast) return this.events.frame(fast, body);
    let decoded: unknown;
    try {
      decoded = unpackValue(rawHeader);
    } catch (err) {
      throw new FrameError(`header is not msgpack (${(err as Error).message})`, 'EFRAME');
    }
    const parsed = agentHeaderSchema.safeParse(decoded);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FrameError(`invalid header: ${issue?.path.join('.') || 't'}: ${issue?.message}`, 'EFRAME');
    }
    this.events.frame(parsed.data, body);
  }

  fault(reason: string): void {
    if (this.faulted) return;
    this.faulted = true;
    this.socket.pause();
    this.events.fault(reason);
  }

  write(header: SupervisorHeader, body?: Uint8Array): void {
    if (this.faulted || this.socket.destroyed) return;
    this.writer.write(header, body);
    if (this.socket.writableLength + this.writer.pending > MAX_BACKLOG) this.fault(`not reading its channel (${this.socket.writableLength} bytes backlogged)`);
  }

  close(): void {
    this.socket.destroy();
  }
}
