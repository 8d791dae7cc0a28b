# The cdc-cache services in one image, for deploy/compose.yaml and the Helm chart
# (deploy/helm/cdc-cache). Build it at the repository root:
#   docker build -t cdc-cache:0.1.0 .
# and run one service per container:
#   docker run cdc-cache:0.1.0 services/cdc-worker/src/main.ts --config /config/cdc-cache.yaml
# The services run from TypeScript source through tsx, as in development.
FROM node:20-bookworm-slim

WORKDIR /app
# Everything but what Dockerfile.dockerignore leaves out (node_modules, the local stack, reports).
COPY . .
# tsx is a dev dependency of the workspace root, so the dev dependencies stay.
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force

ENV NODE_ENV=production
USER node
ENTRYPOINT ["node", "--import", "tsx"]
CMD ["services/cdc-worker/src/main.ts", "--config", "/config/cdc-cache.yaml"]
