/** Building blocks of the OpenAPI document, shared by its per-area files. */
export const error = { $ref: "#/components/responses/Error" };
export const money = {
  amount_minor: {
    type: "integer",
    minimum: 1,
    maximum: 9007199254740991,
    description: "Positive integer of minor units",
  },
  currency: { type: "string", pattern: "^[a-z]{3}$", description: "Lowercase ISO 4217 code" },
};
export const page = [
  { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 100, default: 10 } },
  {
    name: "starting_after",
    in: "query",
    schema: { type: "string" },
    description: "Id of the last object of the previous page",
  },
];
/** The body of both money-moving routes: amount and currency, nothing else. */
export const moneyBody = {
  required: true,
  content: {
    "application/json": {
      schema: {
        type: "object",
        additionalProperties: false,
        required: ["amount_minor", "currency"],
        properties: money,
      },
    },
  },
};
export const idemKey = {
  name: "Idempotency-Key",
  in: "header",
  required: true,
  schema: { type: "string", maxLength: 255 },
};
export const list = (item: string) => ({
  type: "object",
  required: ["data", "has_more"],
  properties: {
    data: { type: "array", items: { $ref: `#/components/schemas/${item}` } },
    has_more: { type: "boolean" },
  },
});
export const ok = (schema: object, description = "OK") => ({
  description,
  content: { "application/json": { schema } },
});
export const user = { security: [{ bearer: [] }] };
export const admin = { security: [{ bearer: [] }], tags: ["admin"] };
export const pathId = { name: "id", in: "path", required: true, schema: { type: "string" } };
