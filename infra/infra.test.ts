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

  it('the GPU pods use valid variables, probe /healthz, ask for a GPU, and the API lists them', () => {
    const set = docs('./k8s/pods.yaml').find((d) => d.kind === 'StatefulSet');
    const [container] = set.spec.template.spec.containers as (Container & {
      resources: { limits: Record<string, unknown> };
    })[];
    assert.ok(container);
    for (const e of container.env ?? []) assert.ok(configVariables.includes(e.name), `${e.name} is a config variable`);
    const literal = Object.fromEntries((container.env ?? []).filter((e) => e.value).map((e) => [e.name, e.value]));
    assert.equal(loadConfig(literal).inference.device, 'cuda');
    assert.equal(container.readinessProbe?.httpGet.path, '/healthz');
    assert.equal(container.resources.limits['nvidia.com/gpu'], 1);
    const api = docs('./k8s/api.yaml').find((d) => d.kind === 'Deployment');
    const apiEnv = Object.fromEntries(
      (api.spec.template.spec.containers[0].env as { name: string; value?: string }[])
        .filter((e) => e.value)
        .map((e) => [e.name, e.value]),
    );
    const urls = loadConfig({ ...apiEnv, DATABASE_URL: 'postgres://u:p@db:5432/s' }).inferenceUrls;
    assert.equal(urls.length, set.spec.replicas, 'one URL per pod replica');
    for (const [i, u] of urls.entries())
      assert.equal(u, `http://${set.metadata.name}-${i}.${set.spec.serviceName}:8080`);
  });

  it('the pod image runs the pod entry point on CUDA', () => {
    const file = read('./docker/pod-cuda.Dockerfile');
    assert.match(file, /CMD \["node", "inference\/pod\/main\.ts"\]/);
    assert.match(file, /INFERENCE_DEVICE=cuda/);
    assert.match(file, /onnxruntime\.linux-x64-gpu@0\.4\.9/);
  });

  it('the API image runs the server entry point and listens on all interfaces', () => {
    const file = read('./docker/api.Dockerfile');
    assert.match(file, /CMD \["node", "api\/server\.ts"\]/);
    assert.match(file, /HOST=0\.0\.0\.0/);
  });
});
