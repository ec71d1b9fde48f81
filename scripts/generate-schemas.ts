import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonSchemas } from '../src/json-schemas';

/** Writes `schema/*.schema.json`; `test/json-schemas.test.ts` fails when they drift. */
const directory = join(__dirname, '..', '..', 'schema');
mkdirSync(directory, { recursive: true });
for (const [file, schema] of Object.entries(jsonSchemas())) {
  writeFileSync(join(directory, file), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote schema/${file}`);
}
