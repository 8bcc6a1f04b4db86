import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { configVariables, loadConfig } from './config.ts';

/**
 * The deployment files cannot be run here (no container engine), so their agreement with the
 * code is checked instead: every variable they set is one the config knows and accepts, and
 * every probe points at a route the API serves without a key.
 */
const read = (p: string) => readFileSync(new URL(p, import.meta.url), 'utf8');
const docs = (p: string) => parseAllDocuments(read(p)).map((d) => d.toJS());

type Container = { env?: { name: string; value?: string }[]; readinessProbe?: Probe; livenessProbe?: Probe };
type Probe = { httpGet: { path: string } };

describe('deployment files', () => {
  it('compose sets only valid config variables', () => {
    const [compose] = docs('./compose.yaml');
    const env = compose.services.api.environment as Record<string, string>;
    for (const name of Object.keys(env)) assert.ok(configVariables.includes(name), `${name} is a config variable`);
    assert.doesNotThrow(() => loadConfig(env));
    assert.ok(env.DATABASE_URL?.startsWith('postgres://'));
  });

  it('the Kubernetes API deployment uses valid variables and probes /healthz and /readyz', () => {
    const deployment = docs('./k8s/api.yaml').find((d) => d.kind === 'Deployment');
    const [container] = deployment.spec.template.spec.containers as Container[];
    assert.ok(container);
    const literal = Object.fromEntries((container.env ?? []).filter((e) => e.value).map((e) => [e.name, e.value]));
    for (const e of container.env ?? []) assert.ok(configVariables.includes(e.name), `${e.name} is a config variable`);
    assert.doesNotThrow(() => loadConfig({ ...literal, DATABASE_URL: 'postgres://u:p@db:5432/studio' }));
    assert.equal(container.readinessProbe?.httpGet.path, '/readyz');
    assert.equal(container.livenessProbe?.httpGet.path, '/healthz');
  });

  it('the API image runs the server entry point and listens on all interfaces', () => {
    const file = read('./docker/api.Dockerfile');
    assert.match(file, /CMD \["node", "api\/server\.ts"\]/);
    assert.match(file, /HOST=0\.0\.0\.0/);
  });
});
