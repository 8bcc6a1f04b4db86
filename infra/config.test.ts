import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('gives the embedded defaults on an empty environment', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.databaseUrl, undefined);
    assert.equal(c.dataDir, resolve('./data'));
    assert.equal(c.modelDir, resolve('./data/models'));
    assert.deepEqual(c.inferenceUrls, []);
    assert.equal(c.logLevel, 'info');
  });

  it('treats empty strings as unset', () => {
    assert.equal(loadConfig({ DATABASE_URL: '', PORT: '' }).databaseUrl, undefined);
  });

  it('parses INFERENCE_URLS as a comma-separated list', () => {
    const c = loadConfig({ INFERENCE_URLS: 'http://a:8000, http://b:8000,' });
    assert.deepEqual(c.inferenceUrls, ['http://a:8000', 'http://b:8000']);
  });

  const bad: [string, string][] = [
    ['PORT', 'eighty'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://localhost/db'],
    ['LOG_LEVEL', 'loud'],
    ['INFERENCE_URLS', 'http://a:8000,not a url'],
    ['MAX_JSON_BODY_BYTES', '-1'],
  ];
  for (const [name, value] of bad) {
    it(`fails fast naming ${name} when it is ${JSON.stringify(value)}`, () => {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (err: unknown) => err instanceof ConfigError && err.message.includes(`${name}:`),
      );
    });
  }
});
