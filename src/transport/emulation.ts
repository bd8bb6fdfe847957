import { randomBytes, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { errBadRequest, errNotFound } from "../errors.js";
import { ErrorCode } from "../gen/realtime/v1/types.js";
import { CommandDecodeError, decodeCommand, splitFrame } from "../protocol/codec.js";
import type { Session } from "../session.js";
import { HttpRequestError, writeHttpError } from "./http-error.js";
import { answerPreflight, type OriginPolicy } from "./origins.js";

/** Where SSE and long-poll clients send their commands. */
export const EMULATION_PATH = "/connection/emulation";

/** Most command lines one request may carry. */
export const MAX_EMULATION_COMMANDS = 64;

/** A new session secret: 256 random bits, URL-safe. */
export function newSessionSecret(): string {
  return randomBytes(32).toString("base64url");
}

/** Constant-time, so response timing does not reveal how much of a guessed secret was right. */
export function sameSecret(secret: string, given: string): boolean {
  const a = Buffer.from(secret);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * POST /connection/emulation?client=<id>&secret=<secret>: the commands of an SSE or long-poll
 * session, which receives on its stream and sends here (Centrifugo's bidirectional
 * emulation). The body holds the same JSON command lines as a WebSocket frame, at most
 * MAX_EMULATION_COMMANDS lines of at most `maxMessageBytes` each; they go to the session
 * exactly as a WebSocket frame does (Session.handleFrame: order, rate limits, commands in
 * flight), and the replies travel on the session's stream like any push. The request answers
 * 204 once the commands are queued, not run.
 *
 * The client id is public (presence, join/leave, publication info): only the secret proves
 * the sender owns the session, and a wrong one looks exactly like no session (404).
 */
export class EmulationSessions {
  private readonly sessions = new Map<string, { session: Session; secret: string }>();

  constructor(
    private readonly maxMessageBytes: number,
    private readonly origins: OriginPolicy,
  ) {}

  /** Lets `session` (connected) take commands from whoever presents `secret`. */
  add(session: Session, secret: string): void {
    this.sessions.set(session.id, { session, secret });
  }

  delete(session: Session): void {
    if (this.sessions.get(session.id)?.session === session) this.sessions.delete(session.id);
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    this.origins.setCorsHeaders(req, res);
    const refused = this.origins.refusal(req);
    if (refused) return void writeHttpError(res, refused);
    if (req.method === "OPTIONS") return answerPreflight(req, res, "POST, OPTIONS");
    if (req.method !== "POST") return void writeHttpError(res, new HttpRequestError(405, ErrorCode.ERROR_CODE_BAD_REQUEST, "use POST", { Allow: "POST, OPTIONS" }));
    const id = url.searchParams.get("client") ?? "";
    const entry = this.sessions.get(id);
    if (!entry || !sameSecret(entry.secret, url.searchParams.get("secret") ?? "") || entry.session.closed) {
      if (entry?.session.closed) this.sessions.delete(id);
      return void writeHttpError(res, errNotFound("unknown or expired session: connect again"));
    }
    const maxBody = MAX_EMULATION_COMMANDS * (this.maxMessageBytes + 1);
    const body = await readBody(req, maxBody);
    if (body === null) return this.tooLarge(entry.session, res, `body larger than ${maxBody} bytes`);
    const text = body.toString("utf8");
    const lines = splitFrame(text);
    if (lines.length > MAX_EMULATION_COMMANDS) return this.tooLarge(entry.session, res, `more than ${MAX_EMULATION_COMMANDS} commands in one request`);
    for (const line of lines) {
      if (Buffer.byteLength(line) > this.maxMessageBytes) return this.tooLarge(entry.session, res, `a command larger than ${this.maxMessageBytes} bytes (maxMessageBytes)`);
      // A line the session could not answer (no id, not JSON) would close it (3501): refuse
      // the whole request instead, before any of it runs. Lines with an id and a bad field
      // go through and are answered (107) under their id, as over WebSocket.
      try {
        decodeCommand(line);
      } catch (err) {
        if (!(err instanceof CommandDecodeError) || err.commandId === 0)
          return void writeHttpError(res, errBadRequest(`bad command line ${lines.indexOf(line) + 1}: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
    // The session may have closed while the body arrived: its stream is gone, nobody to answer.
    if (entry.session.closed) return void writeHttpError(res, errNotFound("unknown or expired session: connect again"));
    if (lines.length > 0) entry.session.handleFrame(text);
    res.writeHead(204, { "Cache-Control": "no-store" });
    res.end();
  }

  private tooLarge(session: Session, res: ServerResponse, message: string): void {
    session.node.counters.limitRefusals.message_size++;
    // The rest of the body is not read: close the connection after the answer.
    writeHttpError(res, new HttpRequestError(413, ErrorCode.ERROR_CODE_LIMIT_EXCEEDED, message, { Connection: "close" }));
  }
}

/** The body, or null once it grows past `max` bytes (the rest is left unread). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.off("data", onData);
        req.pause();
        return resolve(null);
      }
      chunks.push(c);
    };
    req.on("data", onData);
    req.on("end", () => resolve(Buffer.concat(chunks, size)));
    req.on("error", reject);
  });
}

