/**
 * Mercure topic selectors, as the `mercure.publish` and `mercure.subscribe` JWT claims list
 * them and as subscribers pass them in `topic=`: `*` (every topic), a URI template (RFC 6570)
 * or an exact topic.
 *
 * Templates, RFC 6570 levels 1 and 2 read backwards (does some expansion give this topic?):
 * `{var}` (simple expansion: unreserved characters and %-escapes, so no `/`, `?` or `#`: one
 * path segment at most), `{+var}` (reserved expansion: anything) and `{#var}` (fragment
 * expansion: nothing, or `#` and anything). A template with another operator (`{/var}`,
 * `{?var}`, …) or an unclosed brace matches nothing as a template: an authorization read too
 * wide grants too much, so what we cannot read exactly grants nothing (it still matches the
 * topic equal to it, as every selector does).
 */
export function selectorMatches(selector: string, topic: string): boolean {
  if (selector === "*" || selector === topic) return true;
  if (!selector.includes("{")) return false;
  const re = templateRegex(selector);
  return re !== null && re.test(topic);
}

/** Whether any of `selectors` matches any of `topics`. */
export function anyMatches(selectors: readonly string[], topics: readonly string[]): boolean {
  return topics.some((t) => selectors.some((s) => selectorMatches(s, t)));
}

/**
 * Whether a subscriber's selector needs matching (`*` or a URI template) rather than being
 * one exact topic: the former cannot be one channel, the latter is.
 */
export function isPattern(selector: string): boolean {
  return selector === "*" || selector.includes("{");
}

/** Whether a pattern (see isPattern) is one we can match: `*`, or a template of `{var}`, `{+var}`, `{#var}` only. */
export function patternSupported(selector: string): boolean {
  return selector === "*" || templateRegex(selector) !== null;
}

const templates = new Map<string, RegExp | null>();

function templateRegex(template: string): RegExp | null {
  let re = templates.get(template);
  if (re !== undefined) return re;
  re = compile(template);
  // Selectors come from tokens and requests: bounded, so a stream of distinct ones cannot grow it forever.
  if (templates.size >= 1000) templates.clear();
  templates.set(template, re);
  return re;
}

/**
 * One variable name or several, comma-separated (`{x,y}`), as RFC 6570 writes them: a name
 * never starts or ends with `.` (`{.x}` is the label operator), no modifiers (`:3`, `*`).
 */
const VARCHAR = "(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})";
const VARNAME = `${VARCHAR}(?:\\.?${VARCHAR})*`;
const VARS = `${VARNAME}(?:,${VARNAME})*`;
const SIMPLE = new RegExp(`^${VARS}$`);
const RESERVED = new RegExp(`^\\+${VARS}$`);
const FRAGMENT = new RegExp(`^#${VARS}$`);

function compile(template: string): RegExp | null {
  let out = "^";
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf("{", i);
    if (open < 0) {
      out += escape(template.slice(i));
      break;
    }
    const close = template.indexOf("}", open);
    if (close < 0) return null;
    out += escape(template.slice(i, open));
    const expr = template.slice(open + 1, close);
    // Simple: what expands unescaped (unreserved) plus %-escapes; `,` joins several values.
    if (SIMPLE.test(expr)) out += "(?:[A-Za-z0-9\\-._~,]|%[0-9A-Fa-f]{2})*";
    else if (RESERVED.test(expr)) out += ".*";
    else if (FRAGMENT.test(expr)) out += "(?:#.*)?";
    else return null;
    i = close + 1;
  }
  return new RegExp(out + "$", "s");
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
