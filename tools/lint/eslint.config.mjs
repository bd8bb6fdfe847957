// ESLint for the whole project, run by `npm run lint` (see package.json here for why it has
// its own install). Type-aware: the rules see the types, so they catch floating promises,
// misused promises and unsafe `any` flows that the compiler lets through.
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";

const root = fileURLToPath(new URL("../..", import.meta.url));

export default tseslint.config(
  { ignores: ["src/gen/**", "dist/**", "node_modules/**", "tools/**", "clients/php/**", "clients/python/**", "demo/**"] },
  {
    files: ["src/**/*.ts", "test/**/*.ts", "bench/**/*.ts", "clients/js/src/**/*.ts"],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      // Interface methods are async by contract; a memory implementation has nothing to await.
      "@typescript-eslint/require-await": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
    },
  },
  {
    // Tests read parsed JSON and reach into objects on purpose: the `any` rules would only add
    // casts there. What matters in tests too stays on (floating and misused promises, ...).
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
      "@typescript-eslint/no-unsafe-return": "off",
      // Tests compare wire codes (numbers from JSON) with the generated enums, print what they
      // got in failure messages whatever its type, and keep a method to put it back later.
      "@typescript-eslint/no-unsafe-enum-comparison": "off",
      "@typescript-eslint/no-base-to-string": "off",
      "@typescript-eslint/restrict-template-expressions": "off",
      "@typescript-eslint/restrict-plus-operands": "off",
      "@typescript-eslint/unbound-method": "off",
    },
  },
);
