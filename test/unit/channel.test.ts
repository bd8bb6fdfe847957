import { describe, expect, it } from "vitest";
import { ChannelRules, namespaceOf, validateChannel } from "../../src/channel.js";
import { defaultNamespace } from "../../src/config.js";
import { ErrorCode } from "../../src/gen/realtime/v1/types.js";
import { HubError } from "../../src/errors.js";

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as HubError).code;
  }
  return null;
};

describe("channels", () => {
  it("accepts ordinary names and rejects bad ones with BAD_REQUEST", () => {
    for (const ok of ["news", "chat:42", "private:user.7", "presence:room.1", "a/b-c_d@e"]) expect(() => validateChannel(ok)).not.toThrow();
    for (const bad of ["", "has space", "new\nline", "x".repeat(256), "ünïcode", "star*", "gt>"])
      expect(codeOf(() => validateChannel(bad))).toBe(ErrorCode.ERROR_CODE_BAD_REQUEST);
  });

  it("finds the namespace before the first colon", () => {
    expect(namespaceOf("chat:1:2")).toBe("chat");
    expect(namespaceOf("news")).toBe("");
  });

  it("resolves namespace options and refuses unknown namespaces unless allowed", () => {
    const chat = { ...defaultNamespace("chat"), historySize: 10 };
    const rules = new ChannelRules({ namespaces: [chat], channelDefaults: defaultNamespace(), allowUnknownNamespaces: false });
    expect(rules.options("chat:1").historySize).toBe(10);
    expect(rules.options("news").historySize).toBe(0);
    expect(codeOf(() => rules.options("nope:1"))).toBe(ErrorCode.ERROR_CODE_UNKNOWN_CHANNEL);
    const open = new ChannelRules({ namespaces: [chat], channelDefaults: defaultNamespace(), allowUnknownNamespaces: true });
    expect(open.options("nope:1").name).toBe("");
  });
});
