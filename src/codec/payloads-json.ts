import type { Payload } from '@temporalio/common';
import { HttpError } from './http';

// The body of the remote codec protocol: a Payloads message in protobuf JSON form
// (`{ "payloads": [{ "metadata": {…}, "data": "<base64>" }] }`), bytes as base64, empty fields
// possibly omitted. Every malformed part is a 400 that names where it is, never what it holds.

/**
 * Whether `s` is base64 (standard or URL-safe alphabet, padding optional), checked in one pass: a
 * regular expression over a string of megabytes overflows the engine's stack.
 */
export function isBase64(s: string): boolean {
  let end = s.length;
  let padding = 0;
  while (end > 0 && s.charCodeAt(end - 1) === 61 /* = */ && padding < 2) {
    end -= 1;
    padding += 1;
  }
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    const alphanumeric = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
    if (!alphanumeric && c !== 43 /* + */ && c !== 47 /* / */ && c !== 45 /* - */ && c !== 95 /* _ */) return false;
  }
  return padding === 0 ? end % 4 !== 1 : s.length % 4 === 0;
}

function bytes(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !isBase64(value)) throw new HttpError(400, `${where} must be a base64 string`);
  return Buffer.from(value, 'base64');
}

/** Reads a Payloads message; 400 when it is malformed, 413 when it holds more than `maxPayloads`. */
export function parsePayloads(body: Buffer, maxPayloads: number): Payload[] {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  const list = (json as { payloads?: unknown } | null)?.payloads;
  if (typeof json !== 'object' || json === null || (list !== undefined && !Array.isArray(list))) {
    throw new HttpError(400, 'expected {"payloads": [...]}');
  }
  if (list && list.length > maxPayloads) throw new HttpError(413, `more than ${maxPayloads} payloads in one request: split it`);
  return ((list ?? []) as unknown[]).map((item, i) => {
    if (typeof item !== 'object' || item === null) throw new HttpError(400, `payloads[${i}] is not an object`);
    const { metadata = {}, data = '' } = item as { metadata?: unknown; data?: unknown };
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new HttpError(400, `payloads[${i}].metadata is not an object`);
    return {
      metadata: Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, bytes(value, `payloads[${i}].metadata.${key}`)])),
      data: bytes(data, `payloads[${i}].data`),
    };
  });
}

/** A payload in the protobuf JSON form the Web UI and the CLI read back. */
export function payloadToJson(payload: Payload): { metadata: Record<string, string>; data: string } {
  const base64 = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('base64');
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([key, value]) => [key, base64(value)])),
    data: base64(payload.data),
  };
}
