import type { Payload, PayloadCodec } from '@temporalio/common';
import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { z } from 'zod';
import type { ApiEnv } from '../context.js';
import { ApiError } from '../errors.js';
import { validate } from '../validation.js';

/** Temporal's remote codec protocol: payloads as JSON with base64 metadata values and data. */
const jsonPayloads = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), z.string().base64()).optional(),
      data: z.string().base64().optional(),
    }),
  ),
});
type JsonPayloads = z.infer<typeof jsonPayloads>;

const fromJson = ({ payloads }: JsonPayloads): Payload[] =>
  payloads.map((p) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: p.data === undefined ? undefined : Buffer.from(p.data, 'base64'),
  }));

const toJson = (payloads: Payload[]): JsonPayloads => ({
  payloads: payloads.map((p) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    ...(p.data ? { data: Buffer.from(p.data).toString('base64') } : {}),
  })),
});

export interface CodecSettings {
  codec: PayloadCodec;
  /** The Temporal Web UI's origins: the only ones CORS lets call the codec from a browser. */
  uiOrigin: string[];
  /** Who may call: an operator's token, or the loopback UI (src/api/codec-access.ts). */
  access: MiddlewareHandler<ApiEnv>;
  /** Per-caller rate limit, after access (so it knows the caller). */
  rateLimit: MiddlewareHandler<ApiEnv>;
  /** Payloads one request may carry: each may cost a KMS call to open its data key. */
  maxPayloads: number;
}

/**
 * `POST /codec/decode` and `/codec/encode` for the Temporal Web UI (`--ui-codec-endpoint`), so
 * operators see decoded inputs and results. The access token stays sealed: it travels inside
 * payloads in its own encrypted form, which decoding does not open.
 */
export function codecRoutes({ codec, uiOrigin, access, rateLimit, maxPayloads }: CodecSettings) {
  const app = new Hono<ApiEnv>();
  app.use(
    '*',
    cors({
      origin: uiOrigin,
      allowMethods: ['POST'],
      allowHeaders: ['Content-Type', 'X-Namespace', 'Authorization'],
      exposeHeaders: ['Retry-After'],
      credentials: true,
      maxAge: 600,
    }),
  );
  app.use('*', access, rateLimit);
  // Counted before each payload is validated and decoded: a body of many tiny payloads costs little to refuse.
  const capped: MiddlewareHandler<ApiEnv> = async (c, next) => {
    const body: unknown = await c.req.json().catch(() => undefined); // malformed JSON: the validator says so
    const count = (body as { payloads?: unknown } | undefined)?.payloads;
    if (Array.isArray(count) && count.length > maxPayloads) {
      throw new ApiError(
        413,
        'too_many_payloads',
        `A codec request may carry at most ${maxPayloads} payloads (CODEC_MAX_PAYLOADS); this one has ${count.length}`,
        { max_payloads: maxPayloads },
      );
    }
    await next();
  };
  return app
    .post('/decode', capped, validate('json', jsonPayloads), async (c) =>
      c.json(toJson(await codec.decode(fromJson(c.req.valid('json'))))),
    )
    .post('/encode', capped, validate('json', jsonPayloads), async (c) =>
      c.json(toJson(await codec.encode(fromJson(c.req.valid('json'))))),
    );
}
