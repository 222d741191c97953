import type { Payload, PayloadCodec } from '@temporalio/common';
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { ApiEnv } from '../context.js';
import { validate } from '../validation.js';

/** Temporal's remote codec protocol: payloads as JSON with base64 metadata values and data. */
const jsonPayloads = z.object({
  payloads: z.array(z.object({
    metadata: z.record(z.string(), z.string().base64()).optional(),
    data: z.string().base64().optional(),
  })).max(1000),
});
type JsonPayloads = z.infer<typeof jsonPayloads>;

const fromJson = ({ payloads }: JsonPayloads): Payload[] =>
  payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
  }));

const toJson = (payloads: Payload[]): JsonPayloads => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
    ...(p.data ? { data: Buffer.from(p.data).toString('base64') } : {}),
  })),
});

export interface CodecSettings {
  codec: PayloadCodec;
  /** The Temporal Web UI's origin: the only one CORS lets call the codec from a browser. */
  uiOrigin: string[];
  /** Authentication for the codec (the API's JWT check); absent only in the embedded default. */
  auth?: MiddlewareHandler<ApiEnv>;
}

/**
 * `POST /codec/decode` and `/codec/encode` for the Temporal Web UI (`--ui-codec-endpoint`), so
 * operators see decoded inputs and results. The access token stays sealed: it travels inside
 * payloads in its own encrypted form, which decoding does not open.
 */
export function codecRoutes({ codec, uiOrigin, auth }: CodecSettings) {
  const app = new Hono<ApiEnv>();
  app.use('*', cors({ origin: uiOrigin, allowMethods: ['POST'], allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization'], credentials: true, maxAge: 600 }));
  if (auth) app.use('*', auth);
  return app
    .post('/decode', validate('json', jsonPayloads), async (c) => c.json(toJson(await codec.decode(fromJson(c.req.valid('json'))))))
    .post('/encode', validate('json', jsonPayloads), async (c) => c.json(toJson(await codec.encode(fromJson(c.req.valid('json'))))));
}
