import { HubError } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";

/**
 * A publish refused because too much is already on its way to a broker that has not answered
 * it: the server is slow or stalled. Temporary (HTTP 503, gRPC UNAVAILABLE where it reaches
 * the API): retrying later may succeed.
 */
export class PublishBacklogFull extends HubError {
  constructor(message: string) {
    super(ErrorCode.ERROR_CODE_INTERNAL, message, true);
    this.name = "PublishBacklogFull";
  }
}

/**
 * How many publishes (and how many bytes) a broker client has handed its connection without
 * the server answering them yet. ioredis and nats.js write to their sockets without a limit,
 * so while a server is connected but slow to read their buffers would grow for as long as the
 * node keeps publishing; past either limit a publish fails at once instead.
 *
 * The byte limit never refuses a publish when nothing is pending, so one message larger than
 * the limit still goes through an idle connection (unless `idleExemption` is false).
 */
export class PendingBound {
  private count = 0;
  private bytes = 0;

  constructor(
    /** Names the broker in errors: `redis`, `nats`, `kafka`. */
    private readonly broker: string,
    readonly maxCount: number,
    readonly maxBytes: number,
    /**
     * False where the count is given back before the bytes (Kafka gives the count back when a
     * batch leaves for the producer): a count of 0 does not mean idle there, and exempting it
     * would let a batch in flight plus one more message pass the byte limit.
     */
    private readonly idleExemption = true,
  ) {}

  /** Takes room for one publish of `bytes`, or throws PublishBacklogFull. */
  acquire(bytes: number): void {
    if (this.count >= this.maxCount)
      throw new PublishBacklogFull(
        `${this.broker} publish backlog full: ${this.count} publishes unanswered, limit ${this.maxCount} (server slow or stalled)`,
      );
    if ((this.count > 0 || !this.idleExemption) && this.bytes + bytes > this.maxBytes)
      throw new PublishBacklogFull(
        `${this.broker} publish backlog full: ${this.bytes + bytes} bytes would be unanswered, limit ${this.maxBytes} (server slow or stalled)`,
      );
    this.count++;
    this.bytes += bytes;
  }

  /** Gives back what `count` publishes of `bytes` in all took. */
  release(count: number, bytes: number): void {
    this.count -= count;
    this.bytes -= bytes;
  }

  /** Runs `send` counted, from now until it settles; throws PublishBacklogFull without running it. */
  async track<T>(bytes: number, send: () => Promise<T>): Promise<T> {
    this.acquire(bytes);
    try {
      return await send();
    } finally {
      this.release(1, bytes);
    }
  }

  /** What is unanswered now. */
  pending(): { count: number; bytes: number } {
    return { count: this.count, bytes: this.bytes };
  }
}

