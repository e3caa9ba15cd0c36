# kftpd container image: multi-stage, non-root, no shell tools beyond what Node needs.
# Build: docker build -t kftpd:0.1.0 .   (any OCI builder: docker, podman, buildah, kaniko)
# The entrypoint is the one `kftpd render kubernetes` puts in the StatefulSet; the container
# arguments there are `serve --config /etc/kftpd/config/kftpd.yaml` (test/unit/deploy/dockerfile.test.ts
# checks that both agree and runs that very command).

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci runs the package's install script (the native upload receiver); the runtime-deps
# stage builds the one that ships, so none is needed here.
COPY scripts/build-native.mjs ./scripts/
RUN KFTPD_NATIVE=skip npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm-slim AS runtime-deps
WORKDIR /app
# ssh2 builds its native crypto binding here (the runtime image has no compiler); without it
# SFTP falls back to code at about two thirds of the throughput. CI_CHECK_FAIL=ssh2 makes a
# failed build fail the image instead of shipping the fallback. The same npm ci builds kftpd's
# native upload receiver (native/receive-file.c, scripts/build-native.mjs) into build/;
# KFTPD_NATIVE=required fails the image rather than ship plain uploads at 0.6x the rate.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts/build-native.mjs ./scripts/
COPY native ./native
RUN CI_CHECK_FAIL=ssh2 KFTPD_NATIVE=required npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# Distroless: Node and its libraries only (no shell, no package manager), uid 65532 by default;
# we run as 10001, the uid the rendered StatefulSet sets, so file ownership on volumes matches.
FROM gcr.io/distroless/nodejs20-debian12 AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=runtime-deps /app/build ./build
COPY package.json ./
USER 10001:10001
# Control (FTP and explicit FTPS), SFTP when enabled, admin (health, metrics); the passive
# range is published per replica by the rendered Services.
EXPOSE 2121 2222 9090
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/src/cli/main.js"]
CMD ["serve", "--config", "/etc/kftpd/config/kftpd.yaml"]
