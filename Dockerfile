# The saga worker, production-shaped: compiled JavaScript, a workflow bundle built at image build
# time (WORKFLOW_BUNDLE_PATH), production dependencies only, an unprivileged user.

# Production dependencies. better-sqlite3 compiles here, where the full image has a C++ toolchain;
# install scripts are otherwise skipped, since the Temporal servers for the test suite are not needed.
FROM node:20-bookworm AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/saga/package.json ./packages/saga/
COPY packages/barrier/package.json ./packages/barrier/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm rebuild better-sqlite3

# Compile the sources and bundle the workflows.
FROM node:20-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/saga/package.json ./packages/saga/
COPY packages/barrier/package.json ./packages/barrier/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages/tsconfig.json ./packages/
COPY packages/saga ./packages/saga
COPY packages/barrier ./packages/barrier
COPY src ./src
COPY scripts/build-bundle.ts ./scripts/build-bundle.ts
RUN npm run build && npm run build:bundle -- dist/workflow-bundle.js

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/saga/package.json ./packages/saga/
COPY --from=build /app/packages/saga/dist ./packages/saga/dist
COPY --from=build /app/packages/barrier/package.json ./packages/barrier/
COPY --from=build /app/packages/barrier/dist ./packages/barrier/dist
COPY package.json ./
USER node
# The worker drains in-flight tasks on SIGTERM; give it the time in `docker stop -t` / stop_grace_period.
CMD ["node", "dist/worker.js"]
