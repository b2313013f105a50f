// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["node_modules/**", "coverage/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-syntax": [
        "error",
        { selector: "TSEnumDeclaration", message: "Use `as const` objects or unions." },
      ],
    },
  },
  {
    // The ledger core is pure: no I/O libraries may reach it.
    files: ["src/ledger/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            "knex",
            "pg",
            "koa",
            "bullmq",
            "ioredis",
            "stripe",
            "../db/*",
            "../http/*",
            "../queue/*",
          ],
        },
      ],
    },
  },
);
