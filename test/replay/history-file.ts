import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import proto from '@temporalio/proto';

type History = proto.temporal.api.history.v1.History;

/**
 * protobufjs's JSON reader from the copy `@temporalio/proto` was built with. The SDK's own
 * `historyFromJSON` fails here ("type must be a Type"): npm keeps two copies of protobufjs 8, one
 * under @temporalio/common and one under @temporalio/proto (grpc's proto-loader holds 7 at the top),
 * and the reader of one does not accept the types of the other.
 */
const { fromJson } = createRequire(import.meta.resolve('@temporalio/proto'))('protobufjs/ext/protojson') as {
  fromJson(type: unknown, json: unknown, options: { ignoreUnknownFields: boolean }): History;
};

/** A history as `temporal workflow show --output json` writes it, already parsed. */
export function historyFromJson(json: unknown): History {
  return fromJson(proto.temporal.api.history.v1.History, json, { ignoreUnknownFields: true });
}

/** A history as `temporal workflow show --output json` wrote it. */
export function readHistory(file: string): History {
  return historyFromJson(JSON.parse(readFileSync(file, 'utf8')));
}
