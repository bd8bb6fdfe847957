import { describe, expect, it } from "vitest";
import { anyMatches, isPattern, patternSupported, selectorMatches } from "../../src/mercure/selectors.js";
import { FIREHOSE_CHANNEL, channelToTopic, topicToChannel } from "../../src/mercure/topic-channel.js";

describe("Mercure topic selectors", () => {
  it("* matches every topic; an exact selector only its own topic, compared as a string", () => {
    for (const t of ["https://example.com/books/1", "urn:x", "", "é #?/"]) expect(selectorMatches("*", t)).toBe(true);
    expect(selectorMatches("https://example.com/books/1", "https://example.com/books/1")).toBe(true);
    expect(selectorMatches("https://example.com/books/1", "https://example.com/books/10")).toBe(false);
    expect(selectorMatches("https://example.com/books/A", "https://example.com/books/%41")).toBe(false);
    // A dot is no wildcard: the literal parts are escaped.
    expect(selectorMatches("https://example.com/{id}", "https://exampleXcom/1")).toBe(false);
  });

  it("{var} matches one path segment: unreserved characters and %-escapes, no / ? #", () => {
    const s = "https://example.com/books/{id}";
    for (const t of ["1", "abc-._~", "a%20b", "", "x,y"]) expect(selectorMatches(s, `https://example.com/books/${t}`), t).toBe(true);
    for (const t of ["1/2", "1?x=1", "1#f", "a b", "é", "a%2", "a:b", "a@b"]) expect(selectorMatches(s, `https://example.com/books/${t}`), t).toBe(false);
    expect(selectorMatches(s, "https://example.com/authors/1")).toBe(false);
    // Several expressions, and a literal suffix after one.
    const two = "https://example.com/users/{user}/books/{id}.json";
    expect(selectorMatches(two, "https://example.com/users/7/books/1.json")).toBe(true);
    expect(selectorMatches(two, "https://example.com/users/7/books/1.xml")).toBe(false);
    expect(selectorMatches(two, "https://example.com/users/7/8/books/1.json")).toBe(false);
  });

  it("{+var} matches anything (reserved expansion), {#var} nothing or a fragment", () => {
    const s = "https://example.com/{+path}";
    for (const t of ["books/1", "a/b/c?x=1#f", "", "é"]) expect(selectorMatches(s, `https://example.com/${t}`), t).toBe(true);
    expect(selectorMatches(s, "https://example.org/books/1")).toBe(false);
    const f = "https://example.com/books/1{#section}";
    expect(selectorMatches(f, "https://example.com/books/1")).toBe(true);
    expect(selectorMatches(f, "https://example.com/books/1#chapter/2")).toBe(true);
    expect(selectorMatches(f, "https://example.com/books/12")).toBe(false);
  });

  it("templates of other operators, or unclosed, match nothing but their own text", () => {
    for (const s of ["https://example.com/books{/id}", "https://example.com/books{?id}", "https://example.com/{.x}", "https://example.com/{;x}", "https://example.com/{&x}", "https://example.com/{id", "https://example.com/{}", "https://example.com/{id:3}", "https://example.com/{id*}"]) {
      expect(selectorMatches(s, "https://example.com/books/1"), s).toBe(false);
      expect(selectorMatches(s, "https://example.com/books?id=1"), s).toBe(false);
      expect(selectorMatches(s, s), s).toBe(true);
      expect(patternSupported(s), s).toBe(false);
    }
    for (const s of ["*", "https://example.com/{id}", "https://example.com/{+p}", "x{#f}", "https://example.com/{a,b}", "https://example.com/{a.b}"]) expect(patternSupported(s), s).toBe(true);
  });

  it("isPattern tells selectors that need matching from exact topics; anyMatches crosses lists", () => {
    expect(isPattern("*")).toBe(true);
    expect(isPattern("https://example.com/{id}")).toBe(true);
    expect(isPattern("https://example.com/*")).toBe(false);
    expect(isPattern("https://example.com/1")).toBe(false);
    expect(anyMatches(["urn:a", "urn:{x}"], ["https://example.com", "urn:b"])).toBe(true);
    expect(anyMatches(["urn:a"], ["urn:b", "urn:c"])).toBe(false);
    expect(anyMatches([], ["urn:a"])).toBe(false);
  });

  it("the firehose channel is no topic's channel", () => {
    expect(FIREHOSE_CHANNEL).toBe("mercure:~all");
    expect(channelToTopic(FIREHOSE_CHANNEL)).toBeUndefined();
    for (const t of ["~all", "~ALL", "%7Eall", "~h"]) expect(topicToChannel(t)).not.toBe(FIREHOSE_CHANNEL);
  });
});
