// Generates results/types.gen.ts from results/schema.json, so the TypeScript types are never written twice.
// A test regenerates and compares, so a schema edit without `npm run gen:types` fails CI.
import { compile } from 'json-schema-to-typescript';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

export async function generateTypes(): Promise<string> {
  const schemaPath = fileURLToPath(new URL('./schema.json', import.meta.url));
  const schema = JSON.parse(await readFile(schemaPath, 'utf8'));
  return compile(schema, 'WattbenchResult', {
    bannerComment: '/* Generated from results/schema.json by `npm run gen:types`. Do not edit by hand. */',
    additionalProperties: false,
    unreachableDefinitions: true,
    style: { singleQuote: true },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = fileURLToPath(new URL('./types.gen.ts', import.meta.url));
  await writeFile(out, await generateTypes());
  console.log(`wrote ${out}`);
}
