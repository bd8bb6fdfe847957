/**
 * Mercure topic selectors, as the `mercure.publish` and `mercure.subscribe` JWT claims list
 * them: `*` (every topic), a URI template (RFC 6570) or an exact topic.
 *
 * Templates: `{var}` (simple expansion: unreserved characters and %-escapes, so no `/`, `?`
 * or `#`) and `{+var}` (reserved expansion: anything). A template with another operator
 * (`{/var}`, `{?var}`, …) matches nothing: an authorization that is read too wide grants too
 * much, so what we cannot read exactly grants nothing.
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

const templates = new Map<string, RegExp | null>();

function templateRegex(template: string): RegExp | null {
  let re = templates.get(template);
  if (re !== undefined) return re;
  re = compile(template);
  // Claims come from tokens: bounded, so a stream of distinct templates cannot grow it forever.
  if (templates.size >= 1000) templates.clear();
  templates.set(template, re);
  return re;
}

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
    if (/^[A-Za-z0-9_.%]+(,[A-Za-z0-9_.%]+)*$/.test(expr)) out += "(?:[A-Za-z0-9\\-._~,]|%[0-9A-Fa-f]{2})*";
    else if (/^\+[A-Za-z0-9_.%]+(,[A-Za-z0-9_.%]+)*$/.test(expr)) out += ".*";
    else return null;
    i = close + 1;
  }
  return new RegExp(out + "$", "s");
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
