# syntax=docker/dockerfile:1
#
# The stampede image: the `stampede` binary (run, merge, mock, plan, ...) and the bundled
# scenarios under /scenarios. Build from the repository root:
#
#   docker build -t stampede .
#
# Used by deploy/k8s/ (the mock, the shard Job and the merge Job all run this one image).

############################## builder ##############################
FROM rust:1-bookworm AS builder
WORKDIR /src

# 1. Dependencies only, in a layer that source edits do not invalidate: the workspace manifests
#    and the lock file, with stub sources in place of the real ones (both members name their
#    targets explicitly, and the root package lists tests/it/main.rs, so those paths must
#    exist). fuzz/ is not a workspace member (`exclude` in Cargo.toml) and is not copied.
COPY Cargo.toml Cargo.lock ./
COPY mock-server/Cargo.toml mock-server/Cargo.toml
RUN mkdir -p src mock-server/src tests/it \
 && echo 'fn main() {}' > src/main.rs \
 && : > src/lib.rs \
 && echo 'fn main() {}' > mock-server/src/main.rs \
 && : > mock-server/src/lib.rs \
 && : > tests/it/main.rs \
 && cargo build --release --locked -p stampede

# 2. The real sources. COPY keeps the files' own (older) modification times, so the stubs'
#    build records are removed and the entry points touched: cargo must not mistake the stub
#    build for an up-to-date one. scenarios/ is needed at compile time too
#    (src/commands/bench/live.rs embeds scenarios/profiles/zero-latency.toml).
COPY src src
COPY mock-server mock-server
COPY scenarios scenarios
#    The release profile keeps line tables (debug = "line-tables-only"); the installed copy
#    drops them (`strip --strip-debug`: symbol names stay, so backtraces still name functions).
RUN rm -rf target/release/.fingerprint/stampede-* target/release/deps/*stampede* \
 && touch src/lib.rs src/main.rs mock-server/src/lib.rs mock-server/src/main.rs \
 && cargo build --release --locked -p stampede \
 && install -m 0755 target/release/stampede /usr/local/bin/stampede \
 && strip --strip-debug /usr/local/bin/stampede \
 && /usr/local/bin/stampede --version

############################## runtime ##############################
FROM debian:bookworm-slim

# CA certificates for HTTPS targets (a gateway behind a private CA: mount its certificate and
# point SSL_CERT_FILE at it, or build FROM this image and add it here).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 65532 stampede \
 && useradd --system --uid 65532 --gid 65532 --home-dir /home/stampede --create-home \
        --shell /usr/sbin/nologin stampede

COPY --from=builder /usr/local/bin/stampede /usr/local/bin/stampede
COPY scenarios /scenarios

# Numeric, so that Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /home/stampede

# 8089: `stampede mock`; 9464: `stampede run --metrics-addr 0.0.0.0:9464`.
EXPOSE 8089 9464
ENTRYPOINT ["stampede"]
CMD ["--help"]
