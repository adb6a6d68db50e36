// www/protocol.js on its own (node --test): every message type of the table passes with its
// fields, and a message lacking one, of an unknown type or without an id is refused, naming
// what is wrong. The browser test checks the real traffic (both sides check every message).
import assert from 'node:assert/strict';
import test from 'node:test';
import { REPLIES, REPORT_FIELDS, REQUESTS, checkReply, checkRequest } from '../../www/protocol.js';

const report = Object.fromEntries(REPORT_FIELDS.map((field) => [field, field === 'warnings' ? [] : 0]));

function complete(type, fields) {
  const message = { id: 7, type };
  for (const field of fields) message[field] = field === 'reports' ? [report] : field === 'report' ? report : 1;
  return message;
}

test('every request and reply of the table passes with its fields', () => {
  for (const [type, fields] of Object.entries(REQUESTS)) checkRequest(complete(type, fields));
  for (const [type, fields] of Object.entries(REPLIES)) checkReply(complete(type, fields));
});

test('a message lacking a field is refused, naming the field', () => {
  for (const [table, check] of [[REQUESTS, checkRequest], [REPLIES, checkReply]]) {
    for (const [type, fields] of Object.entries(table)) {
      for (const field of fields) {
        const message = complete(type, fields);
        delete message[field];
        assert.throws(() => check(message), new RegExp(`${type} .* lacks ${field}`));
      }
    }
  }
});

test('a report lacking a field is refused, in an image reply and in a volume batch', () => {
  for (const field of REPORT_FIELDS) {
    const partial = { ...report };
    delete partial[field];
    assert.throws(() => checkReply({ id: 1, type: 'image', report: partial, ms: 1 }), new RegExp(`lacks ${field}`));
    assert.throws(
      () => checkReply({ id: 1, type: 'volume-slices', start: 16, reports: [report, partial] }),
      new RegExp(`report 17 of a volume lacks ${field}`),
    );
  }
});

test('unknown types and missing ids are refused', () => {
  assert.throws(() => checkRequest({ id: 1, type: 'train' }), /unknown request "train"/);
  assert.throws(() => checkReply({ type: 'volume-done', ms: 1 }), /has no id/);
  assert.throws(() => checkReply(null), /unknown reply/);
});
