import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { trainerJobManifest } from '../trainer/index.ts';
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

/** The repository files an entry point imports, following relative imports of .ts files. */
function importClosure(entry: string): string[] {
  const root = new URL('../', import.meta.url);
  const seen = new Set<string>();
  const todo = [entry];
  for (let file = todo.pop(); file !== undefined; file = todo.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(new URL(file, root), 'utf8');
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+\.ts)['"]/g)) {
      todo.push(new URL(m[1]!, new URL(file, root)).pathname.slice(root.pathname.length));
    }
  }
  return [...seen];
}

/** The repository paths a Dockerfile copies into its final image (`COPY src… dest`, not `--from`). */
function copiedPaths(dockerfile: string): string[] {
  const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  return [...final.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/).slice(0, -1));
}

describe('container images', () => {
  const images: [string, string][] = [
    ['api.Dockerfile', 'api/server.ts'],
    ['pod-cuda.Dockerfile', 'inference/pod/main.ts'],
    ['trainer-cuda.Dockerfile', 'api/worker.ts'],
  ];
  for (const [image, entry] of images) {
    it(`${image} holds every module ${entry} imports`, () => {
      const copied = copiedPaths(read(`./docker/${image}`));
      const missing = importClosure(entry).filter((f) => !copied.some((c) => f === c || f.startsWith(`${c}/`)));
      assert.deepEqual(missing, []);
    });
  }

  it('npm ci in each image finds the files that npm runs before and during the install', () => {
    const scripts = (JSON.parse(read('../package.json')) as { scripts: Record<string, string> }).scripts;
    const run = ['preinstall', 'install', 'postinstall', 'prepare'].flatMap((k) =>
      [...(scripts[k] ?? '').matchAll(/\bnode (\S+)/g)].map((m) => m[1] as string),
    );
    assert.ok(run.length > 0, 'package.json runs a script at install');
    for (const [image] of images) {
      const file = read(`./docker/${image}`);
      const beforeCi = file.slice(0, file.search(/^RUN .*\bnpm ci\b/m));
      const copied = [...beforeCi.matchAll(/^COPY (?!--from)(.+)$/gm)].flatMap((m) =>
        m[1]!.trim().split(/\s+/).slice(0, -1),
      );
      for (const f of run) assert.ok(copied.includes(f), `${image} copies ${f} before npm ci`);
    }
  });

  it('the trainer image runs the worker on the CUDA base of the pod image, with the CUDA build of the pinned torch', () => {
    const file = read('./docker/trainer-cuda.Dockerfile');
    const base = (f: string) => f.match(/^FROM (nvidia\/cuda:\S+)$/m)?.[1];
    assert.ok(base(file));
    assert.equal(base(file), base(read('./docker/pod-cuda.Dockerfile')));
    assert.match(file, /COPY --from=deps \/usr\/local\/bin\/node \/usr\/local\/bin\/node/);
    assert.match(file, /npm ci --omit=dev/);
    const pin = read('../trainer/env/requirements.txt').match(/^torch==(\S+)$/m)?.[1];
    assert.ok(pin);
    assert.ok(file.includes(`--index-url https://download.pytorch.org/whl/cu130 torch==${pin}`));
    assert.match(file, /-r trainer\/env\/requirements\.txt/);
    assert.match(file, /CMD \["node", "api\/worker\.ts"\]/);
  });
});

describe('training runs as Kubernetes Jobs', () => {
  type Env = { name: string; value?: string };
  const trainer = docs('./k8s/trainer.yaml');
  const api = docs('./k8s/api.yaml').find((d) => d.kind === 'Deployment');
  const apiEnv = Object.fromEntries(
    (api.spec.template.spec.containers[0].env as Env[]).filter((e) => e.value).map((e) => [e.name, e.value]),
  );

  it('the API launches Jobs and runs no workers: the dataset workers, on the trainer image, build datasets', () => {
    const config = loadConfig({ ...apiEnv, DATABASE_URL: 'postgres://u:p@db:5432/s' });
    assert.equal(config.trainingLauncher, 'kubernetes');
    assert.equal(config.jobWorkers, 0, 'the API image has no Python: its workers could build nothing');
    const workers = docs('./k8s/dataset-workers.yaml').find((d) => d.kind === 'Deployment');
    const [w] = workers.spec.template.spec.containers as (Container & { image: string; args: string[] })[];
    assert.ok(w);
    for (const e of w.env ?? []) assert.ok(configVariables.includes(e.name), `${e.name} is a config variable`);
    const wEnv = Object.fromEntries((w.env ?? []).filter((e) => e.value).map((e) => [e.name, e.value]));
    const wConfig = loadConfig({ ...wEnv, DATABASE_URL: 'postgres://u:p@db:5432/s' });
    assert.deepEqual(wConfig.jobKinds, ['dataset.build', 'prescreen.run']);
    assert.ok(wConfig.jobWorkers >= 1);
    assert.equal(w.image, config.kubernetes.trainerImage, 'the trainer image, which has the Python side');
    assert.deepEqual(w.args, ['node', 'api/worker.ts']);
    assert.ok(config.kubernetes.trainerImage);
    const account = trainer.find((d) => d.kind === 'ServiceAccount');
    assert.equal(api.spec.template.spec.serviceAccountName, account.metadata.name);
  });

  it("the Role lets the API's service account create Jobs in its namespace", () => {
    const role = trainer.find((d) => d.kind === 'Role');
    const binding = trainer.find((d) => d.kind === 'RoleBinding');
    const rules = role.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[];
    assert.ok(
      rules.some((r) => r.apiGroups.includes('batch') && r.resources.includes('jobs') && r.verbs.includes('create')),
    );
    assert.deepEqual(binding.roleRef, {
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata.name,
    });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: api.spec.template.spec.serviceAccountName }]);
  });

  it('the reference Job is what the launcher creates with the API’s settings, and sets only config variables', () => {
    const job = trainer.find((d) => d.kind === 'Job');
    const config = loadConfig({ ...apiEnv, DATABASE_URL: 'postgres://u:p@db:5432/s' });
    const expected = trainerJobManifest(
      { id: 42, attempt: 1 },
      { image: config.kubernetes.trainerImage ?? '', gpus: config.kubernetes.trainerGpus },
    );
    assert.deepEqual(job, JSON.parse(JSON.stringify(expected)));
    const [container] = job.spec.template.spec.containers as { env: Env[] }[];
    assert.ok(container);
    for (const e of container.env) assert.ok(configVariables.includes(e.name), `${e.name} is a config variable`);
    const secret = (api.spec.template.spec.containers[0].env as { name: string; valueFrom?: unknown }[]).find(
      (e) => e.name === 'DATABASE_URL',
    );
    assert.deepEqual(
      container.env.find((e) => e.name === 'DATABASE_URL'),
      secret,
      'the same Secret as the API',
    );
  });
});
