# syntax=docker/dockerfile:1
# Node 24 LTS, the supported version (README, "Node versions"). scripts/image-check runs these stages
# without an engine (CI does): keep its emulation of the last stage in step with this file.
ARG NODE_IMAGE=node:24-bookworm-slim

# Build stage: compile TypeScript with the dev toolchain. Install scripts are skipped: tsc needs none, and
# the one a production dependency has (@scarf/scarf, under swagger-ui-dist) only reports the install.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY migrations migrations
COPY console console
RUN npm run build && rm -f dist/.tsbuildinfo

# Production dependencies only (fs-native-extensions ships prebuilt binaries, so no script is needed here either).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# Runtime: compiled code, production deps and the shipped configuration, owned by root and run as the
# unprivileged node user, who can write only to DATA_DIR.
FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0 PORT=8080 DATA_DIR=/var/lib/kalos
# The heap, sized rather than left to V8 (README, Memory). With no ceiling V8 lets the old generation grow
# to four times what its last full collection kept, and Node 24 lets the young one reach 128 MB; the
# gateway keeps 30-85 MB live, so under `npm run bench` it peaked near 350 MB RSS. A 1 GB ceiling collects
# at under twice the live heap, and 16 MB semi-spaces hold the young generation to 32 MB: peak RSS near
# 185 MB, for about 15 % more CPU per checkout and 25 % per webhook (a smaller young generation is
# scavenged more often). NODE_OPTIONS replaces it; give the container at least 1.5 GB, or lower the
# ceiling to a few hundred MB under its memory limit.
ENV NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=16"
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules node_modules
COPY --from=build --chown=root:root /app/dist dist
COPY --chown=root:root config config
COPY --chown=root:root package.json ./
# `kalos <command>` on the PATH (docker run … kalos migrate). DATA_DIR holds what the embedded fallbacks
# write when enabled (ALLOW_GENERATED_KEYS: the dev identity key pair; ALLOW_EMBEDDED_DATABASE: the
# database), so it is a volume, mode 0700, owned by node.
RUN chmod 0755 dist/src/cli/main.js \
  && ln -s /app/dist/src/cli/main.js /usr/local/bin/kalos \
  && mkdir -p /var/lib/kalos && chown node:node /var/lib/kalos && chmod 0700 /var/lib/kalos
VOLUME /var/lib/kalos
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# Migrations run at start-up; `kalos migrate` runs them alone (e.g. as a release job).
CMD ["node", "dist/src/main.js"]
