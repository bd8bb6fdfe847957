import { describe, expect, it } from "vitest";
import { CommandDecodeError, decodeCommand, encodeReply, methodOf, splitFrame } from "../../src/protocol/codec.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";

describe("JSON codec", () => {
  it("decodes a publish with embedded JSON data into bytes", () => {
    const cmd = decodeCommand('{"id":3,"publish":{"channel":"chat:1","data":{"text":"hi","data":{"nested":1}}}}');
    expect(cmd.id).toBe(3);
    expect(methodOf(cmd)).toBe("publish");
    expect(JSON.parse(cmd.publish!.data.toString())).toEqual({ text: "hi", data: { nested: 1 } });
  });

  it("accepts binary payloads as b64data", () => {
    const cmd = decodeCommand(`{"id":1,"publish":{"channel":"c","b64data":"${Buffer.from([0, 255]).toString("base64")}"}}`);
    expect([...cmd.publish!.data]).toEqual([0, 255]);
  });

  it("reads uint64 offsets given as strings", () => {
    const cmd = decodeCommand('{"id":2,"subscribe":{"channel":"c","recover":true,"epoch":"e","offset":"42"}}');
    expect(cmd.subscribe).toMatchObject({ channel: "c", recover: true, epoch: "e", offset: "42" });
  });

  it("rejects malformed JSON and non-objects with BAD_REQUEST", () => {
    for (const bad of ["{", "[1]", "42", '"x"']) {
      const err = (() => {
        try {
          decodeCommand(bad);
        } catch (e) {
          return e;
        }
        return null;
      })();
      expect(err).toBeInstanceOf(CommandDecodeError);
      expect((err as CommandDecodeError).code).toBe(ErrorCode.ERROR_CODE_BAD_REQUEST);
    }
  });

  it("rejects fields of the wrong JSON type, naming the field", () => {
    const cases: Array<[string, RegExp]> = [
      ['{"id":2,"history":{"channel":"c","limit":"x"}}', /history\.limit must be an integer/],
      ['{"id":2,"history":{"channel":"c","limit":1.5}}', /history\.limit must be an integer/],
      ['{"id":2,"subscribe":{"channel":5}}', /subscribe\.channel must be a string/],
      ['{"id":2,"subscribe":{"channel":"c","recover":"yes"}}', /subscribe\.recover must be a boolean/],
      ['{"id":2,"subscribe":{"channel":"c","offset":"five"}}', /subscribe\.offset must be an integer or a string of digits/],
      ['{"id":2,"history":{"channel":"c","since":{"offset":true}}}', /history\.since\.offset must be/],
      ['{"id":2,"history":{"channel":"c","since":"0"}}', /history\.since must be an object/],
      ['{"id":2,"subscribe":"chat"}', /subscribe must be an object/],
    ];
    for (const [line, message] of cases) {
      let err: unknown;
      try {
        decodeCommand(line);
      } catch (e) {
        err = e;
      }
      expect(err, line).toBeInstanceOf(CommandDecodeError);
      expect((err as CommandDecodeError).commandId).toBe(2);
      expect((err as CommandDecodeError).code).toBe(ErrorCode.ERROR_CODE_BAD_REQUEST);
      expect((err as CommandDecodeError).message).toMatch(message);
    }
  });

  it("accepts what proto3 JSON allows: integers as strings, 64-bit integers as numbers, nulls", () => {
    expect(decodeCommand('{"id":2,"history":{"channel":"c","limit":"10","since":{"offset":3,"epoch":"e"}}}').history).toMatchObject({
      limit: 10,
      since: { offset: "3", epoch: "e" },
    });
    expect(decodeCommand('{"id":2,"subscribe":{"channel":"c","token":null}}').subscribe).toMatchObject({ channel: "c", token: "" });
  });

  it("requires an id on everything but the empty pong", () => {
    expect(decodeCommand("{}").id).toBe(0);
    expect(() => decodeCommand('{"ping":{}}')).toThrow(/id is required/);
    expect(() => decodeCommand('{"id":0,"ping":{}}')).toThrow(/id is required/);
  });

  it("names an unknown command", () => {
    const cmd = decodeCommand('{"id":9,"explode":{}}');
    expect(() => methodOf(cmd)).toThrow(/no known method/);
  });

  it("splits a frame into one command per line", () => {
    expect(splitFrame('{"id":1}\n\n{"id":2}\n')).toEqual(['{"id":1}', '{"id":2}']);
  });

  it("encodes a publication push with data embedded and offsets as strings", () => {
    const text = encodeReply({
      id: 0,
      error: undefined,
      push: {
        channel: "chat:1",
        pub: { data: Buffer.from('{"text":"hi"}'), offset: "8", epoch: "e1", tags: { data: "tag" }, info: undefined, time: "0" },
      },
    });
    expect(JSON.parse(text)).toEqual({
      push: { channel: "chat:1", pub: { data: { text: "hi" }, offset: "8", epoch: "e1", tags: { data: "tag" } } },
    });
  });

  it("encodes non-JSON payloads as b64data", () => {
    const text = encodeReply({
      id: 0,
      error: undefined,
      push: { channel: "c", pub: { data: Buffer.from([0xff, 0]), offset: "0", epoch: "", tags: {}, info: undefined, time: "0" } },
    });
    expect(JSON.parse(text).push.pub).toEqual({ b64data: Buffer.from([0xff, 0]).toString("base64") });
  });

  it("encodes an error reply with its id", () => {
    expect(JSON.parse(encodeReply({ id: 3, error: { code: 103, message: "permission denied", temporary: false } }))).toEqual({
      id: 3,
      error: { code: 103, message: "permission denied" },
    });
  });
});
