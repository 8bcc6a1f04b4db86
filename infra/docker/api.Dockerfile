# The API (with the in-process CPU engine and the crowd listening pages).
# Build from the repository root:  docker build -f infra/docker/api.Dockerfile -t xtts-studio-api .
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci first runs the Node.js version check (package.json's preinstall).
COPY infra/check-node.cjs ./infra/
# The CPU build of onnxruntime-node ships in the npm package; the CUDA download is for GPU pods.
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY api ./api
COPY db ./db
COPY inference ./inference
COPY listening ./listening
COPY voices ./voices
# The job workers (api/jobs.ts) are in trainer/; their Python steps need the trainer image's Python.
COPY trainer ./trainer
COPY infra/config.ts infra/index.ts infra/limits.ts infra/storage.ts ./infra/
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
USER node
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "api/server.ts"]
