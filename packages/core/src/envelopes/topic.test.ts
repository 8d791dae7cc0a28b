import { describe, expect, it } from 'vitest';
import { EnvelopeError } from './envelope-error.js';
import { encodeTopicPart, MAX_TOPIC_LENGTH, topicFor } from './topic.js';

const KAFKA_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

describe('topicFor', () => {
  it('names a table topic <prefix>.<schema>.<table>', () => {
    expect(topicFor('cdc', 'public', 'users')).toBe('cdc.public.users');
    expect(topicFor('prod.cdc-1', 'billing', 'Invoice_Lines')).toBe('prod.cdc-1.billing.Invoice_Lines');
  });

  it('encodes every character Kafka refuses, and "." and "-", as "-" and the hex of its UTF-8 bytes', () => {
    expect(encodeTopicPart('order-items')).toBe('order-2Ditems');
    expect(encodeTopicPart('a.b')).toBe('a-2Eb');
    expect(encodeTopicPart('Müller')).toBe('M-C3-BCller');
    expect(encodeTopicPart('my table')).toBe('my-20table');
    expect(encodeTopicPart('📦')).toBe('-F0-9F-93-A6');
    expect(topicFor('cdc', 'Sales Data', 'order-items')).toBe('cdc.Sales-20Data.order-2Ditems');
  });

  it('gives different tables different topics, valid for Kafka', () => {
    const tables: [string, string][] = [
      ['a.b', 'c'],
      ['a', 'b.c'],
      ['a', 'b_c'],
      ['a', 'b-c'],
      ['a', 'b-2Dc'],
      ['a', 'B-c'],
      ['a', 'b c'],
      ['a', 'b%20c'],
      ['public', 'users'],
      ['public', 'Users'],
      ['public', 'ü'],
      ['public', 'u\u0308'],
    ];
    const topics = tables.map(([schema, table]) => topicFor('cdc', schema, table));
    expect(new Set(topics).size).toBe(tables.length);
    for (const topic of topics) expect(topic).toMatch(KAFKA_TOPIC);
  });

  it('shortens a name longer than 249 characters deterministically, keeping it unique', () => {
    const long = 'ž'.repeat(31); // 62 UTF-8 bytes -> 186 characters encoded
    const a = topicFor('cdc', long, `${long}a`);
    const b = topicFor('cdc', long, `${long}b`);
    expect(a).toMatch(KAFKA_TOPIC);
    // 249 characters, or up to two fewer where the cut would split an escape.
    expect(a.length).toBeLessThanOrEqual(MAX_TOPIC_LENGTH);
    expect(a.length).toBeGreaterThanOrEqual(MAX_TOPIC_LENGTH - 2);
    expect(a).toMatch(/^cdc\.-C5-BE-C5-BE.*--[0-9A-F]{16}$/);
    expect(a).not.toBe(b);
    expect(topicFor('cdc', long, `${long}a`)).toBe(a);
    // The cut never leaves half an escape before the hash mark.
    for (let n = 60; n < 80; n++) {
      const topic = topicFor(`p${'x'.repeat(n)}`, long, long);
      expect(topic).toMatch(KAFKA_TOPIC);
      expect(topic.replace(/--[0-9A-F]{16}$/, '')).not.toMatch(/-[0-9A-F]?$/);
    }
  });

  it('keeps names that fit as they are', () => {
    const table = 't'.repeat(MAX_TOPIC_LENGTH - 'cdc.public.'.length);
    expect(topicFor('cdc', 'public', table)).toBe(`cdc.public.${table}`);
  });

  it('refuses a prefix Kafka would refuse, saying what to change', () => {
    for (const prefix of ['', 'cdc prod', 'cdc/prod', 'ü']) {
      let error: unknown;
      try {
        topicFor(prefix, 'public', 'users');
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(EnvelopeError);
      expect((error as EnvelopeError).code).toBe('TOPIC_NAME');
      expect((error as EnvelopeError).message).toContain('kafka.topicPrefix');
    }
  });

  it('refuses an empty schema or table name', () => {
    expect(() => topicFor('cdc', '', 'users')).toThrow('topic: the schema name is empty');
    expect(() => topicFor('cdc', 'public', '')).toThrow('topic: the table name is empty');
  });
});
