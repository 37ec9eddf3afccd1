// The live OpenAPI document as the fuzz sees it: its operations (method,
// path template, query parameters, body schema), and a fast-check
// arbitrary for any of its JSON schemas, so that "valid" requests are valid
// by the document the server publishes, not by a list kept here.
import fc from 'fast-check';

export interface Schema {
  $ref?: string;
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  minProperties?: number;
  items?: Schema;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number | boolean;
  exclusiveMaximum?: number | boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema?: Schema;
}

interface OperationObject {
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: Schema }> };
}

export interface OpenApiDoc {
  paths: Record<string, Record<string, OperationObject>>;
  components?: { schemas?: Record<string, Schema> };
}

export interface Operation {
  method: string;
  /** The path template with Fastify's parameter syntax replaced by {name}: '/api/vms/{id}/config'. */
  template: string;
  pathParams: string[];
  query: Record<string, Schema>;
  body: Schema | null;
}

const httpMethods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

export function operationsOf(doc: OpenApiDoc): Operation[] {
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      if (!httpMethods.has(method)) continue;
      const parameters = operation.parameters ?? [];
      const query: Record<string, Schema> = {};
      for (const parameter of parameters) if (parameter.in === 'query') query[parameter.name] = parameter.schema ?? {};
      const body = operation.requestBody?.content?.['application/json']?.schema ?? null;
      operations.push({
        method: method.toUpperCase(),
        template,
        pathParams: parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name),
        query,
        body: body ? resolve(body, doc) : null,
      });
    }
  }
  return operations;
}

function resolve(schema: Schema, doc: OpenApiDoc): Schema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.replace(/^#\/components\/schemas\//, '');
  const target = doc.components?.schemas?.[name];
  if (!target) throw new Error(`the OpenAPI document refers to ${schema.$ref}, which it does not define`);
  return resolve(target, doc);
}

/** Values that satisfy `schema` (as far as the subset of JSON Schema the server uses goes). */
export function arbitraryFor(schema: Schema, doc: OpenApiDoc, depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(schema, doc);
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => arbitraryFor(alternative, doc, depth + 1)));
  if (s.allOf?.length === 1) return arbitraryFor(s.allOf[0]!, doc, depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return integerIn(s.minimum ?? Number.MIN_SAFE_INTEGER, s.maximum ?? Number.MAX_SAFE_INTEGER);
    case 'number': {
      const exclusiveMin = typeof s.exclusiveMinimum === 'number' ? s.exclusiveMinimum : undefined;
      return fc.double({
        min: exclusiveMin ?? s.minimum ?? -1e9,
        max: s.maximum ?? 1e9,
        minExcluded: exclusiveMin !== undefined,
        noNaN: true,
        noDefaultInfinity: true,
      }).map((value) => (Object.is(value, -0) ? 0 : value));
    }
    case 'string':
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40) });
    case 'array':
      return depth > 4 ? fc.constant([]) : fc.array(arbitraryFor(s.items ?? {}, doc, depth + 1), { maxLength: 4 });
    case 'object':
    case undefined: {
      if (!s.properties) return depth > 4 ? fc.constant({}) : fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
      const properties = Object.fromEntries(Object.entries(s.properties).map(([name, property]) => [name, arbitraryFor(property, doc, depth + 1)]));
      const record = fc.record(properties, { requiredKeys: s.required ?? [] });
      const minProperties = s.minProperties ?? 0;
      return minProperties > 0 ? record.filter((value) => Object.keys(value).length >= minProperties) : record;
    }
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** Integers in [min, max], the bounds and their neighbours favoured, beyond 32 bits too. */
function integerIn(min: number, max: number): fc.Arbitrary<number> {
  const int32 = { min: -(2 ** 31), max: 2 ** 31 - 1 };
  if (min >= int32.min && max <= int32.max) return fc.integer({ min, max });
  const span = max - min;
  return fc.oneof(
    fc.constantFrom(min, max),
    fc.integer({ min: Math.max(min, int32.min), max: Math.min(max, int32.max) }),
    fc.maxSafeNat().map((n) => min + (n % (span + 1))),
  );
}
