import { readdirSync, existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { build, type BuildOptions } from "esbuild";

/** Every deployable unit: `functions/<name>/index.ts` → `dist/<name>/index.mjs`. */
export function entryPoints(root: string): Array<{ name: string; entry: string }> {
  const dir = join(root, "functions");
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, "index.ts")))
    .map((d) => ({ name: d.name, entry: join(dir, d.name, "index.ts") }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** esbuild settings shared by `npm run build` and the CDK: Node 22 ESM, one file, source maps (mappings only). */
export function bundleOptions(entry: string, outfile: string): BuildOptions {
  return {
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "esm",
    sourcemap: true,
    // The map is for mapping a stack trace by hand (nothing loads it at run time: no
    // --enable-source-maps, see the Dockerfile); that needs the mappings, not the sources, which
    // would make it three times the size.
    sourcesContent: false,
    minify: false,
    legalComments: "none",
    logLevel: "warning",
    // Some dependencies still call require(); give the ESM bundle one.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  };
}

export async function buildAll(root: string, outDir = join(root, "dist")): Promise<string[]> {
  const outputs: string[] = [];
  for (const { name, entry } of entryPoints(root)) {
    const outfile = join(outDir, name, "index.mjs");
    await build(bundleOptions(entry, outfile));
    outputs.push(outfile);
  }
  return outputs;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith("scripts/build.ts")) {
  const root = resolve(import.meta.dirname, "..");
  const outDir = process.argv[2] ? resolve(process.argv[2]) : undefined;
  buildAll(root, outDir)
    .then((outputs) => {
      for (const out of outputs) process.stdout.write(`built ${out}\n`);
    })
    .catch((error: unknown) => {
      process.stderr.write(`build failed: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    });
}
