# An inference pod on NVIDIA GPUs: the engine behind `inference/pod`, onnxruntime's CUDA provider.
# Build from the repository root:  docker build -f infra/docker/pod-cuda.Dockerfile -t xtts-studio-pod .
# Run with the GPU and the API's model folder:  docker run --gpus 1 -v models:/data/models xtts-studio-pod
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# npm ci first runs the Node.js version check (package.json's preinstall).
COPY infra/check-node.cjs ./infra/
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund
# onnxruntime-node 1.29.0's CUDA provider built for CUDA 13 ships in this npm package; placed next
# to libonnxruntime it gives onnxruntime-node a working `cuda` execution provider.
RUN cd /tmp && npm pack --silent com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 && tar xzf ./*.tgz \
 && cp package/Plugins/Linux/x64/libonnxruntime_providers_cuda.so package/Plugins/Linux/x64/libonnxruntime_providers_shared.so \
       /app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/ \
 && rm -rf /tmp/package /tmp/*.tgz

FROM nvidia/cuda:13.0.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
COPY --from=deps /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY inference ./inference
COPY infra/config.ts infra/index.ts infra/limits.ts infra/storage.ts ./infra/
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data INFERENCE_DEVICE=cuda INFERENCE_WORKERS=1
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "inference/pod/main.ts"]
