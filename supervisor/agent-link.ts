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

const EMPTY = Buffer.alloc(0);

function isHeartbeat(buf: Buffer, start: number, end: number): boolean {
  if (end - start !== HEARTBEAT.length) return false;
  for (let i = 0; i < HEARTBEAT.length; i++) if (buf[start + i] !== HEARTBEAT[i]) return false;
  return true;
}

/**
 * A frame's body as the router gets it. What the router keeps (a send waits in a
 * mailbox, a checkpoint for the journal) is copied out of the read once, here, so that
 * it does not pin the whole read chunk; what it forwards at once (a reply) stays a view.
 */
function owned(h: AgentHeader, buf: Buffer, start: number, end: number): Buffer {
  if (start === end) return EMPTY;
  if (h.t !== 'send' && h.t !== 'ckpt') return buf.subarray(start, end);
  const copy = Buffer.allocUnsafe(end - start);
  buf.copy(copy, 0, start, end);
  return copy;
}

/** Unread bytes we hold for an agent before calling it unresponsive. */
export const MAX_BACKLOG = 32 << 20;

export class AgentLink {
  private readonly reader: FrameReader;
  private readonly writer: FrameWriter;
  private readonly headers = new AgentHeaderReader();
  private faulted = false;
  lastSeen = Date.now();

  constructor(private readonly socket: Socket, maxFrame: number, private readonly events: LinkEvents) {
    this.reader = new FrameReader(maxFrame, {
      frame: (h, b) => this.onFrame(h, 0, h.length, b),
      frameAt: (buf, hstart, hend, end) => this.onFrame(buf, hstart, hend, buf, hend, end),
    });
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

  /** The header is bytes hstart..hend of `hbuf`, the body bytes bstart..bend of `bbuf` (views into the read: see owned). */
  private onFrame(hbuf: Buffer, hstart: number, hend: number, bbuf: Buffer, bstart = 0, bend = bbuf.length): void {
    if (this.faulted) return;
    if (bstart === bend && isHeartbeat(hbuf, hstart, hend)) return;
    const fast = this.headers.read(hbuf, hstart, hend);
    if (fast) return this.events.frame(fast, owned(fast, bbuf, bstart, bend));
    let decoded: unknown;
    try {
      decoded = unpackValue(hbuf.subarray(hstart, hend));
    } catch (err) {
      throw new FrameError(`header is not msgpack (${(err as Error).message})`, 'EFRAME');
    }
    const parsed = agentHeaderSchema.safeParse(decoded);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new FrameError(`invalid header: ${issue?.path.join('.') || 't'}: ${issue?.message}`, 'EFRAME');
    }
    this.events.frame(parsed.data, owned(parsed.data, bbuf, bstart, bend));
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
