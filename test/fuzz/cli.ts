/**
 * `npm run fuzz -- --seconds N [--seed S] [--only ws,http,edge,grpc] [--path P [--salt N]] [--runs N]`:
 * the properties of the CI fuzz test (test/fuzz/fuzz.test.ts), for longer. The time is
 * shared between the properties by weight; each runs until its share is used (or --runs),
 * then the end-of-fuzz checks run (node up, bystander served, no error logged, memory).
 * Bounded: past --seconds plus a grace period for shrinking and the final checks, the
 * process exits whatever it is doing. Exit code 0: nothing found; 1: findings (printed).
 *
 * Replay a reported failure with the --only, --seed, --path and --salt it names (the salt
 * makes the run's channel names those of the failing run).
 */
import { FuzzHub } from "./harness.js";
import { checkProperty, PROPERTIES, type PropertyReport } from "./run.js";

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error("usage: npm run fuzz -- [--seconds N] [--seed S] [--only ws,http,edge,grpc] [--path P [--salt N]] [--runs N]");
  process.exit(2);
}

function parse(argv: string[]) {
  const o = {
    seconds: 60,
    seed: Math.floor(Math.random() * 2 ** 31),
    only: Object.keys(PROPERTIES),
    path: undefined as string | undefined,
    runs: undefined as number | undefined,
    salt: undefined as number | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes("=") ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)] : [a, undefined];
    const value = () => inline ?? argv[++i] ?? usage(`${flag} needs a value`);
    const num = () => {
      const n = Number(value());
      if (!Number.isFinite(n) || n < 0) usage(`${flag} must be a non-negative number`);
      return n;
    };
    switch (flag) {
      case "--seconds":
        o.seconds = num();
        break;
      case "--seed":
        o.seed = Math.floor(num());
        break;
      case "--only":
        o.only = value().split(",").filter(Boolean);
        for (const n of o.only) if (!PROPERTIES[n]) usage(`unknown property ${n} (known: ${Object.keys(PROPERTIES).join(", ")})`);
        break;
      case "--path":
        o.path = value();
        break;
      case "--salt":
        o.salt = Math.max(1, Math.floor(num()));
        break;
      case "--runs":
        o.runs = Math.max(1, Math.floor(num()));
        break;
      case "--help":
      case "-h":
        usage();
      default:
        usage(`unknown argument ${a}`);
    }
  }
  if (o.path && o.only.length !== 1) usage("--path replays one property: name it with --only");
  return o;
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  // Hard bound: the fuzz time, plus shrinking and the final checks.
  const grace = 90 + o.seconds / 4;
  setTimeout(() => {
    console.error(`fuzz: still running ${grace} s after the ${o.seconds} s budget: giving up`);
    process.exit(3);
  }, (o.seconds + grace) * 1000).unref();

  console.log(`fuzz: seed ${o.seed}, ${o.seconds} s, properties ${o.only.join(", ")}${o.path ? `, replaying path ${o.path}` : ""}`);
  const fh = await FuzzHub.start();
  const reports: PropertyReport[] = [];
  try {
    fh.takeBaseline();
    if (o.salt !== undefined) fh.setNextRun(o.salt);
    const totalWeight = o.only.reduce((s, n) => s + PROPERTIES[n]!.weight, 0);
    for (const name of o.only) {
      const share = Math.max(1000, (o.seconds * 1000 * PROPERTIES[name]!.weight) / totalWeight);
      const r = await checkProperty(fh, name, {
        seed: o.seed,
        numRuns: o.path ? 1 : (o.runs ?? 1_000_000_000),
        timeLimitMs: share,
        ...(o.path ? { path: o.path } : {}),
      });
      reports.push(r);
      console.log(`fuzz: ${name}: ${r.runs} runs in ${(r.ms / 1000).toFixed(1)} s: ${r.failed ? "FAILED" : "ok"}`);
      if (r.failed) console.log(`\n${r.message}\n`);
    }
    console.log(`fuzz: counts: ${fh.stats}`);
    const { problems, summary } = await fh.finalChecks();
    for (const s of summary) console.log(`fuzz: ${s}`);
    for (const p of problems) console.log(`\nfuzz: after the fuzz: ${p}`);
    const failed = reports.filter((r) => r.failed).length + problems.length;
    console.log(failed ? `\nfuzz: ${failed} finding(s); seed ${o.seed}` : `\nfuzz: nothing found; seed ${o.seed}`);
    process.exitCode = failed ? 1 : 0;
  } finally {
    await fh.stop();
  }
}

main().then(
  () => process.exit(),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
