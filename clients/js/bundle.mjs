// The one-file browser bundle the hub serves at /client.js: every module of src/ in one ES
// module, minified, with its source map. Run by the hub's `npm run build`; the output sits in
// the hub's dist/ (the hub's Docker image keeps dist/, not clients/).
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "rolldown";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const { name, version } = JSON.parse(readFileSync(here("./package.json"), "utf8"));

/** Where the hub looks for the bundle (src/transport/static.ts). */
const OUT = here("../../dist/clients/js/client.js");

// `--if-stale`: only when a source is newer than the bundle (tests call it before they start a hub).
const stale = () => {
  if (!existsSync(OUT)) return true;
  const built = statSync(OUT).mtimeMs;
  const sources = [here("./package.json"), here("./bundle.mjs"), ...readdirSync(here("./src")).map((f) => here(`./src/${f}`))];
  return sources.some((f) => statSync(f).mtimeMs > built);
};

if (!process.argv.includes("--if-stale") || stale()) await build({
  input: here("./src/index.ts"),
  // The client has no dependencies; a warning here is a mistake worth stopping for.
  onwarn(warning) {
    throw new Error(`bundling the browser client: ${warning.message}`);
  },
  output: {
    file: OUT,
    format: "esm",
    minify: true,
    sourcemap: true,
    banner: `/*! ${name} ${version} | MIT */`,
  },
});
