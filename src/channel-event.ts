import type { ClientInfo, Publication } from "./gen/realtime/v1/types.js";
import { Frame, publicationFrame } from "./protocol/frame.js";

/**
 * What happens in a channel, as the node hands it to the channel's local subscribers: a
 * publication, a join or a leave. Client sessions send its `frame`, encoded at most once
 * whoever asks first (a publication to 10,000 clients is serialised once); a backend's
 * Subscribe stream reads the publication itself and never encodes the client protocol.
 */
export class ChannelEvent {
  private encoded: Frame | undefined;

  private constructor(
    readonly channel: string,
    readonly publication: Publication | undefined,
    readonly join: ClientInfo | undefined,
    readonly leave: ClientInfo | undefined,
  ) {}

  static publication(channel: string, pub: Publication): ChannelEvent {
    return new ChannelEvent(channel, pub, undefined, undefined);
  }

  static join(channel: string, info: ClientInfo): ChannelEvent {
    return new ChannelEvent(channel, undefined, info, undefined);
  }

  static leave(channel: string, info: ClientInfo): ChannelEvent {
    return new ChannelEvent(channel, undefined, undefined, info);
  }

  /** The client protocol's push of this event. */
  get frame(): Frame {
    return (this.encoded ??= this.publication
      ? publicationFrame(this.channel, this.publication)
      : new Frame({
          id: 0,
          error: undefined,
          push: this.join ? { channel: this.channel, join: { info: this.join } } : { channel: this.channel, leave: { info: this.leave } },
        }));
  }
}
