// Request validation. Bodies are checked strictly: no type coercion, no
// defaults filled in, and unknown fields are an error rather than silently
// dropped (Fastify's default). Query strings and params arrive as text, so
// there numbers are coerced from their decimal form.
import { Ajv, type Options } from 'ajv';
import type { FastifyInstance } from 'fastify';

const common: Options = { allErrors: false, removeAdditional: false, useDefaults: false, strict: false };

export function strictValidation(app: FastifyInstance): void {
  const forBodies = new Ajv({ ...common, coerceTypes: false });
  const forText = new Ajv({ ...common, coerceTypes: true });
  for (const ajv of [forBodies, forText]) {
    for (const schema of Object.values(app.getSchemas())) ajv.addSchema(schema as object);
  }
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? forBodies : forText).compile(schema));
}
